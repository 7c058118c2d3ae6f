// TEMPORARY (dev): replaced by the Checkpoints module's real openTensorArchive when the pth reader lands.
public func openTensorArchive(path: String) throws -> any TensorArchive { try SafetensorsFile(path: path) }
