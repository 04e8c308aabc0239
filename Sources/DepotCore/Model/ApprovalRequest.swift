import DebianFormat

/// An approval as the command line, the API and the dashboard ask for it, checked in one
/// place (depot(1), `approve`): of one exact version, every architecture, for promotion
/// into `distribution`.
public struct ApprovalRequest: Sendable, Hashable {
    /// The distribution the approval is for.
    public var distribution: String
    public var package: String
    public var version: String?
    /// The distribution the version is promoted from; nil for the one whose `Promotes-To`
    /// is `distribution`.
    public var from: String?

    public init(distribution: String, package: String, version: String?, from: String? = nil) {
        self.distribution = distribution
        self.package = package
        self.version = version
        self.from = from
    }

    /// A request for `NAME=VERSION`, as the command line writes it.
    public init(distribution: String, naming selector: String, from: String? = nil) {
        let parts = selector.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        self.init(distribution: distribution, package: parts[0], version: parts.count == 2 ? parts[1] : nil, from: from)
    }

    /// The package and the exact version approved.
    public func selector() throws -> (name: String, version: DebianVersion) {
        let selector = try PackageSelector(parsing: version.map { "\(package)=\($0)" } ?? package)
        guard let version = selector.version else {
            throw DepotError.invalidArgument(
                "name the version to approve: \(package)=VERSION (an approval is of one exact file)")
        }
        return (selector.name, version)
    }
}
