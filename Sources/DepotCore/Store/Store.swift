/// Where the metadata store is: the truth the served tree is derived from. Operations read
/// it in snapshots and change it in transactions, through `StoreTransaction`.
protocol Store: Sendable {
    /// Where it is, for messages: a file's path or a server's address.
    var location: String { get }

    /// Runs `body` on a consistent snapshot.
    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T

    /// Runs `body` in one transaction, committed or, with `commit` false, rolled back.
    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T

    /// Whether several nodes may share it: then the store itself keeps their changes apart
    /// (every write transaction waits for the one before it) and their publishes of one
    /// distribution (`publishing`), and no node-local lock can.
    var isShared: Bool { get }

    /// Runs `body` while no other node publishes `distribution`; the wait ends, and the claim
    /// is let go, when the node holding it dies. Without `waiting`, returns false at once
    /// when another node publishes it now (and `body` does not run).
    func publishing(_ distribution: String, waiting: Bool, _ body: () throws -> Void) throws -> Bool
}
