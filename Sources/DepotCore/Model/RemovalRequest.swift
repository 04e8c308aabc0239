/// A removal as the command line and the API ask for it, checked in one place (depot(1),
/// `remove`): packages unlisted from one distribution, their files kept in the pool.
public struct RemovalRequest: Sendable, Hashable {
    public var distribution: String
    /// `NAME` (every version listed) or `NAME=VERSION` of each package.
    public var packages: [String]

    public init(distribution: String, packages: [String]) {
        self.distribution = distribution
        self.packages = packages
    }

    public func selectors() throws -> [PackageSelector] {
        guard !packages.isEmpty else { throw DepotError.invalidArgument("name the packages to remove") }
        return try packages.map { try PackageSelector(parsing: $0) }
    }
}
