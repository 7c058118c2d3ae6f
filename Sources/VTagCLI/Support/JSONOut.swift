import TaggingPipeline

/// The ordered JSON value now lives in `TaggingPipeline` (the timeline sinks share it).
public typealias JSONValue = TaggingPipeline.JSONValue
