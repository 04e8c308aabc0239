/// Where the metadata store is: the truth the served tree is derived from. Operations read
/// it in snapshots and change it in transactions, through `StoreTransaction`.
protocol Store: Sendable {
    /// Where it is, for messages: a file's path or a server's address.
    var location: String { get }

    /// Runs `body` on a consistent snapshot.
    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T

    /// Runs `body` in one transaction, committed or, with `commit` false, rolled back.
    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T
}
