// Placeholder; see the module's files.
