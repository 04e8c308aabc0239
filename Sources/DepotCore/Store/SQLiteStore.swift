import AptRepository
import DebianFormat
import GRDB

/// The embedded store: SQLite in WAL mode under `.depot/`. Readers in other processes never
/// wait for a writer.
///
/// A `DatabaseQueue`, not a `DatabasePool`: the pool makes sure a WAL file exists by creating
/// and dropping a table on every open, which would make read-only commands change the file.
final class SQLiteStore: Store {
    let database: DatabaseQueue

    var location: String { database.path }

    /// One file on one host: the repository lock keeps writers apart.
    var isShared: Bool { false }

    func publishing(_ distribution: String, waiting: Bool, _ body: () throws -> Void) throws -> Bool {
        try body()
        return true
    }

    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        do {
            return try database.read { db in try body(SQLiteTransaction(db)) }
        } catch let error as DepotError {
            throw error
        } catch {
            throw DepotError.store(error, path: database.path)
        }
    }

    /// Runs `body` in one transaction, committed or, with `commit` false, rolled back.
    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        do {
            return try database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction {
                    result = try body(SQLiteTransaction(db))
                    return commit ? .commit : .rollback
                }
                return result!
            }
        } catch let error as DepotError {
            throw error
        } catch {
            throw DepotError.store(error, path: database.path)
        }
    }

    init(path: String, busyTimeout: Double) throws {
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        // WAL mode is a property of the file: set once, when the store is created.
        if try database.read({ try String.fetchOne($0, sql: "PRAGMA journal_mode") }) != "wal" {
            try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        }
        // Only write when there is something to migrate: a read-only command must leave the
        // file's bytes alone.
        let migrator = Self.migrator
        if try !database.read({ try migrator.hasCompletedMigrations($0) }) {
            try migrator.migrate(database)
        }
    }
}
