/// A field value that breaks Debian's rules: a package name, version, architecture or
/// relationship that dpkg or Debian Policy would reject.
public struct InvalidFieldValue: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the value is, as a user would say it: "package name", "version", ...
    public var kind: String
    public var value: String
    public var reason: String

    public init(kind: String, value: String, reason: String) {
        self.kind = kind
        self.value = value
        self.reason = reason
    }

    public var description: String {
        "invalid \(kind) '\(value)': \(reason)"
    }
}
