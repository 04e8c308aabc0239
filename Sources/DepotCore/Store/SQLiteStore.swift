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

    /// The journal's triggers since release control (v9): each listing row added or removed
    /// is copied, with its phase, into `listing_journal`.
    private static let journalTriggers = """
        CREATE TRIGGER journal_listed AFTER INSERT ON listings BEGIN
            INSERT INTO listing_journal
                (distribution, component, file_id, package, version, architecture, listed, phase)
            SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1, NEW.phase
            FROM package_files WHERE id = NEW.file_id;
        END;
        CREATE TRIGGER journal_unlisted AFTER DELETE ON listings BEGIN
            INSERT INTO listing_journal
                (distribution, component, file_id, package, version, architecture, listed, phase)
            SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0, OLD.phase
            FROM package_files WHERE id = OLD.file_id;
        END;
        """

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE package_files (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        source TEXT NOT NULL,
                        pool_path TEXT NOT NULL UNIQUE,
                        size INTEGER NOT NULL,
                        md5 TEXT NOT NULL,
                        sha1 TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        sha512 TEXT NOT NULL,
                        control TEXT NOT NULL,
                        stanza TEXT NOT NULL,
                        added_at TEXT NOT NULL
                    );
                    CREATE INDEX package_files_by_name ON package_files(name, architecture);
                    CREATE TABLE listings (
                        distribution TEXT NOT NULL,
                        component TEXT NOT NULL,
                        file_id INTEGER NOT NULL REFERENCES package_files(id),
                        PRIMARY KEY (distribution, file_id)
                    );
                    CREATE TABLE history (
                        id INTEGER PRIMARY KEY,
                        date TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        distribution TEXT NOT NULL,
                        user TEXT NOT NULL,
                        command TEXT NOT NULL,
                        note TEXT,
                        changes TEXT NOT NULL
                    );
                    CREATE TABLE unpublished (distribution TEXT PRIMARY KEY);
                    """)
        }
        migrator.registerMigration("v2: listings by file") { db in
            try db.execute(sql: "CREATE INDEX listings_by_file ON listings(file_id)")
        }
        // Each history entry records the listing rows its change added and removed, in order,
        // so that a rollback can undo it exactly, whatever Keep-Versions kept. Triggers write
        // the journal, so no code path that changes listings can forget to; the rows stay
        // unassigned (NULL) until `recordHistory` gives them their entry, in the same
        // transaction. Name, version and architecture are copied so that the journal still
        // reads after gc deleted a file beyond the retention window.
        migrator.registerMigration("v3: listing journal") { db in
            try db.execute(
                sql: """
                    CREATE TABLE listing_journal (
                        sequence INTEGER PRIMARY KEY,
                        history_id INTEGER REFERENCES history(id),
                        distribution TEXT NOT NULL,
                        component TEXT NOT NULL,
                        file_id INTEGER NOT NULL,
                        package TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        listed INTEGER NOT NULL
                    );
                    CREATE INDEX listing_journal_by_entry ON listing_journal(history_id);
                    CREATE INDEX listing_journal_by_file ON listing_journal(file_id);
                    CREATE TRIGGER journal_listed AFTER INSERT ON listings BEGIN
                        INSERT INTO listing_journal
                            (distribution, component, file_id, package, version, architecture, listed)
                        SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1
                        FROM package_files WHERE id = NEW.file_id;
                    END;
                    CREATE TRIGGER journal_unlisted AFTER DELETE ON listings BEGIN
                        INSERT INTO listing_journal
                            (distribution, component, file_id, package, version, architecture, listed)
                        SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0
                        FROM package_files WHERE id = OLD.file_id;
                    END;
                    """)
        }
        migrator.registerMigration("v4: API tokens") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tokens (
                        name TEXT PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        scopes TEXT NOT NULL,
                        created_at TEXT NOT NULL
                    );
                    """)
        }
        // The virtual names each file provides, so that a dependency check finds providers by
        // an index rather than by reading every control paragraph of a distribution.
        migrator.registerMigration("v5: provided names") { db in
            try db.execute(
                sql: """
                    CREATE TABLE provides (
                        file_id INTEGER NOT NULL REFERENCES package_files(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        version TEXT
                    );
                    CREATE INDEX provides_by_name ON provides(name);
                    CREATE INDEX provides_by_file ON provides(file_id);
                    """)
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, control FROM package_files WHERE instr(control, 'Provides:') > 0")
            for row in rows {
                guard let paragraph = try? Deb822Document(parsing: row[1] as String).paragraphs.first else { continue }
                try MetadataStore.recordProvides(SQLiteTransaction(db), fileID: row[0], provides: paragraph["Provides"])
            }
        }
        // Files of the tree that nothing references any more, kept for the grace period of
        // the storage (clients and caches may still fetch them), from when gc or a publish
        // found them unreferenced.
        migrator.registerMigration("v6: storage garbage") { db in
            try db.execute(
                sql: """
                    CREATE TABLE storage_garbage (
                        path TEXT PRIMARY KEY,
                        since INTEGER NOT NULL
                    );
                    """)
        }
        // The configuration the repository was made with: a store that holds one is never
        // made into another repository.
        migrator.registerMigration("v7: repository configuration") { db in
            try db.execute(sql: "CREATE TABLE repository_configuration (configuration TEXT NOT NULL)")
        }
        migrator.registerMigration("v8: publication generations") { db in
            try db.execute(sql: PostgresSchema.publicationGenerations)
        }
        migrator.registerMigration("v9: release control") { db in
            try db.execute(
                sql: PostgresSchema.releaseControl + """
                    DROP TRIGGER journal_listed;
                    DROP TRIGGER journal_unlisted;
                    \(journalTriggers)
                    """)
        }
        // Ids that never go back: without AUTOINCREMENT, SQLite gives a new row the highest id
        // plus one, so a file gc deleted lent its id to the next push, and a rollback, an
        // approval or a soak that named the old file applied to the new one. The tables are
        // made anew (SQLite cannot change a key), and each counter starts past every id any
        // table or the journal still names.
        migrator.registerMigration("v10: identities never reused") { db in
            try db.execute(
                sql: """
                    DROP TRIGGER journal_listed;
                    DROP TRIGGER journal_unlisted;
                    CREATE TABLE package_files_new (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        source TEXT NOT NULL,
                        pool_path TEXT NOT NULL UNIQUE,
                        size INTEGER NOT NULL,
                        md5 TEXT NOT NULL,
                        sha1 TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        sha512 TEXT NOT NULL,
                        control TEXT NOT NULL,
                        stanza TEXT NOT NULL,
                        added_at TEXT NOT NULL
                    );
                    INSERT INTO package_files_new SELECT id, name, version, architecture, source, pool_path, size,
                        md5, sha1, sha256, sha512, control, stanza, added_at FROM package_files;
                    DROP TABLE package_files;
                    ALTER TABLE package_files_new RENAME TO package_files;
                    CREATE INDEX package_files_by_name ON package_files(name, architecture);
                    CREATE TABLE history_new (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        date TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        distribution TEXT NOT NULL,
                        user TEXT NOT NULL,
                        command TEXT NOT NULL,
                        note TEXT,
                        changes TEXT NOT NULL,
                        overridden_gates TEXT
                    );
                    INSERT INTO history_new SELECT id, date, operation, distribution, user, command, note, changes,
                        overridden_gates FROM history;
                    DROP TABLE history;
                    ALTER TABLE history_new RENAME TO history;
                    \(journalTriggers)
                    DELETE FROM sqlite_sequence WHERE name IN ('package_files', 'history');
                    """)
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('package_files', \(PostgresSchema.highestFileID(.sqlite)))")
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('history', \(PostgresSchema.highestHistoryID(.sqlite)))")
        }
        migrator.registerMigration("v11: signing times") { db in
            try db.execute(sql: PostgresSchema.signingTimes)
        }
        return migrator
    }
}


/// A transaction of the SQLite store, through GRDB. Statements are prepared once per
/// connection and cached: compiling one that touches `listings` also compiles the journal's
/// triggers, which costs more than running it.
final class SQLiteTransaction: StoreTransaction {
    private let db: Database

    init(_ db: Database) { self.db = db }

    var dialect: StoreDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [any StoreValueConvertible]) throws {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }

    func rows(_ sql: String, _ arguments: [any StoreValueConvertible]) throws -> [StoreRow] {
        let statement = try db.cachedStatement(sql: sql)
        statement.arguments = Self.arguments(arguments)
        var rows: [StoreRow] = []
        let columns = statement.columnNames
        let cursor = try Row.fetchCursor(statement)
        while let row = try cursor.next() {
            rows.append(StoreRow(values: row.databaseValues.map(Self.value), columns: columns))
        }
        return rows
    }

    private static func arguments(_ values: [any StoreValueConvertible]) -> StatementArguments {
        StatementArguments(
            values.map { value -> DatabaseValue in
                switch value.storeValue {
                case .integer(let number): number.databaseValue
                case .text(let text): text.databaseValue
                case .null: .null
                }
            })
    }

    private static func value(_ value: DatabaseValue) -> StoreValue {
        switch value.storage {
        case .int64(let number): .integer(number)
        case .string(let text): .text(text)
        case .double(let number): .integer(Int64(number))
        case .blob(let data): .text(String(decoding: data, as: UTF8.self))
        case .null: .null
        }
    }
}

extension DepotError {
    /// An error of the metadata store at `path`. SQLite says "database or disk is full" when
    /// the file system is, but only "disk I/O error" when its shared-memory file cannot grow.
    static func store(_ error: any Error, path: String) -> DepotError {
        let code = (error as? DatabaseError)?.resultCode
        if code == .SQLITE_BUSY {
            return .lockTimeout(holder: Repository.lockHolder(ofStoreAt: path), waited: nil)
        }
        let full =
            code == .SQLITE_FULL
            || (code == .SQLITE_IOERR
                && (DurableFiles.availableBytes(onFileSystemOf: path) ?? Int.max) < Self.nearlyFull)
        let damaged = code == .SQLITE_CORRUPT || code == .SQLITE_NOTADB
        let advice =
            full
            ? " (\(FileError.fileSystemFullAdvice))"
            : damaged ? " (the metadata store is damaged: restore it from a backup)" : ""
        return .storage("\(path): \(error)" + advice)
    }

    /// Less free space than this makes an I/O error of the store a full file system's.
    private static let nearlyFull = 1 << 20
}
