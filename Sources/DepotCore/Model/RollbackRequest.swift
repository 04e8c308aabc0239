/// A rollback as the command line, the API and the dashboard ask for it, checked in one
/// place (depot(1), `rollback`).
public struct RollbackRequest: Sendable, Hashable {
    public var distribution: String
    /// Packages whose latest change in the distribution is undone; none with `to`.
    public var packages: [String]
    /// The history entry whose state the whole distribution goes back to; nil with `packages`.
    public var to: Int64?

    public init(distribution: String, packages: [String] = [], to: Int64? = nil) {
        self.distribution = distribution
        self.packages = packages
        self.to = to
    }

    /// Refuses a request that names both packages and a history entry, or neither.
    public func validate() throws {
        guard (to == nil) != packages.isEmpty else {
            throw DepotError.invalidArgument(
                to == nil
                    ? "name the packages to roll back, or the history entry to go back to"
                    : "a rollback to a history entry takes back every package: name none")
        }
    }
}
