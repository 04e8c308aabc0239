/// A mistake in `depot.conf`.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var problem: String

    public var description: String { "depot.conf:\(line): \(problem)" }
}
