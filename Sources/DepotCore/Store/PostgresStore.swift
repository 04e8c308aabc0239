import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared store: a PostgreSQL database, for several Depot nodes (depot.conf(5):
/// `Store: postgresql://USER@HOST:PORT/DATABASE`). The password comes from `PGPASSWORD` or
/// the password file, never from depot.conf.
///
/// Each transaction leases a connection of its own from a small pool, so readers on other
/// threads never run inside a writer's transaction. The operations are synchronous: each
/// statement is awaited from the operation's thread (never Swift concurrency's pool).
///
/// Nodes sharing the database are kept apart by PostgreSQL's advisory locks, which it lets go
/// itself when a node's connection ends: every write transaction first takes the
/// repository's transaction lock (held for the milliseconds a transaction lasts, never over
/// uploads), and a distribution's publish holds that distribution's lock.
final class PostgresStore: Store {
    let location: String
    private let configuration: PostgresConnection.Configuration
    /// Seconds a statement waits for a lock another node holds.
    private let lockTimeout: Double
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    static let logger = Logger(label: "depot.store") { _ in SwiftLogNoOpLogHandler() }

    /// Connects to the database of `url` and brings its schema up to date; a database that
    /// holds another application's tables, or a schema newer than this Depot knows, is refused.
    init(
        url: String, lockTimeout: Double = Repository.defaultLockTimeout,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.lockTimeout = lockTimeout
        let address = try PostgresAddress(parsing: url, environment: environment)
        location = address.description
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: try address.tls())
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        try write(commit: true) { db in try PostgresSchema.migrate(db, location: self.location) }
    }

    deinit {
        for connection in idle.withLock({ $0 }) { try? waitFor { try await connection.close() } }
    }

    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", commit: false, body)
    }

    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", commit: commit) { db in
            // Statements after this one see every change committed before it (read committed),
            // so each transaction decides on the repository as the one before it left it.
            try db.execute("SELECT pg_advisory_xact_lock(?::integer, 0)", [Self.lockSpace])
            return try body(db)
        }
    }

    var isShared: Bool { true }

    func publishing(_ distribution: String, waiting: Bool, _ body: () throws -> Void) throws -> Bool {
        let connection = try lease()
        let claim = PostgresTransaction(connection: connection, location: location)
        do {
            if waiting {
                try claim.execute("SELECT pg_advisory_lock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution])
            } else if try claim.value(
                "SELECT pg_try_advisory_lock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution]) != true
            {
                idle.withLock { $0.append(connection) }
                return false
            }
        } catch {
            _ = try? waitFor { try await connection.close() }
            throw Self.lockError(error, distribution: distribution, waited: lockTimeout)
        }
        defer {
            if (try? claim.execute("SELECT pg_advisory_unlock(?::integer, hashtext(?))", [Self.lockSpace + 1, distribution]))
                != nil
            {
                idle.withLock { $0.append(connection) }
            } else {
                _ = try? waitFor { try await connection.close() }
            }
        }
        try body()
        return true
    }

    /// The first key of Depot's advisory locks: the repository's transaction lock; the next
    /// one, with the distribution's hash as second key, its publish lock.
    private static let lockSpace: Int64 = 1_684_366_452

    /// A lock wait that ran out says who is waited for, the way the repository lock does.
    private static func lockError(_ error: any Error, distribution: String?, waited: Double) -> any Error {
        guard case .lockTimeout(_, nil) = error as? DepotError else { return error }
        let what = distribution.map { "the publish of \($0)" } ?? "the repository"
        return DepotError.lockTimeout(holder: "another Depot node (\(what))", waited: waited)
    }

    private func transaction<T>(begin: String, commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        let connection = try lease()
        let transaction = PostgresTransaction(connection: connection, location: location)
        do {
            try transaction.execute(begin)
            let result = try body(transaction)
            try transaction.execute(commit ? "COMMIT" : "ROLLBACK")
            idle.withLock { $0.append(connection) }
            return result
        } catch {
            // A connection whose transaction failed is closed, not reused: it may be mid-way.
            _ = try? waitFor { try await connection.close() }
            throw Self.lockError(error, distribution: nil, waited: lockTimeout)
        }
    }

    private func lease() throws -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }), !connection.isClosed { return connection }
        let configuration = configuration
        let id = nextID.add(1, ordering: .relaxed).newValue
        let connection: PostgresConnection
        do {
            connection = try waitFor {
                try await PostgresConnection.connect(configuration: configuration, id: id, logger: Self.logger)
            }
        } catch {
            throw PostgresTransaction.depotError(error, location: location)
        }
        // A node stopped while it holds a lock (not dead: its connection lives) makes others
        // give up after the time a change waits for the repository, not wait forever.
        do {
            try PostgresTransaction(connection: connection, location: location).execute(
                "SELECT set_config('lock_timeout', ?, false)", ["\(Int(lockTimeout * 1000))"])
        } catch {
            _ = try? waitFor { try await connection.close() }
            throw error
        }
        return connection
    }
}
