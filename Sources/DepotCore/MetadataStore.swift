import DebianFormat
import Foundation
import GRDB

/// A package file as the store records it: once, however many distributions list it.
public struct PackageFile: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var version: String
    public var architecture: String
    public var source: String
    public var poolPath: String
    public var checksums: Checksums

    public var debianVersion: DebianVersion { (try? DebianVersion(version)) ?? Self.fallbackVersion }
    private static let fallbackVersion = try! DebianVersion("0")
}

/// A package file listed in a distribution.
public struct Listing: Sendable, Hashable, Codable {
    public var distribution: String
    public var component: String
    public var file: PackageFile
}

/// One change a history entry records: a package's version in a distribution before and
/// after (nil when absent).
public struct Change: Sendable, Hashable, Codable {
    public var package: String
    public var architecture: String
    public var before: String?
    public var after: String?
}

public struct HistoryEntry: Sendable, Hashable, Codable {
    public var id: Int64
    public var date: String
    public var operation: String
    public var distribution: String
    public var user: String
    public var command: String
    public var note: String?
    public var changes: [Change]
}

/// A listed file as a `Packages` index shows it.
struct IndexRow: Sendable {
    var name: String
    var version: String
    var architecture: String
    var stanza: String
}

/// The metadata store: SQLite in WAL mode under `.depot/`, the truth from which `public/`
/// is derived. Readers in other processes never wait for a writer.
///
/// A `DatabaseQueue`, not a `DatabasePool`: the pool makes sure a WAL file exists by creating
/// and dropping a table on every open, which would make read-only commands change the file.
final class MetadataStore: Sendable {
    let database: DatabaseQueue

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
                try recordProvides(db, fileID: row[0], provides: paragraph["Provides"])
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
        return migrator
    }

    /// Whether gc keeps the file of the tree at `path` for clients that may still fetch it.
    static func isKeptForClients(_ db: Database, path: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM storage_garbage WHERE path = ?", arguments: [path]) ?? false
    }

    /// Records the names a file's `Provides` field gives (nothing when it has none, or when
    /// the field does not parse: such a file provides nothing a check could rely on).
    static func recordProvides(_ db: Database, fileID: Int64, provides: String?) throws {
        guard let provides, let relations = try? RelationshipList(parsing: provides) else { return }
        for provided in relations.requirements.joined() {
            try db.cachedStatement(sql: "INSERT INTO provides (file_id, name, version) VALUES (?, ?, ?)")
                .execute(arguments: [fileID, provided.package, provided.version?.version.description])
        }
    }

    /// The distributions that list a file, by name.
    static func distributions(listing fileID: Int64, _ db: Database) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT DISTINCT distribution FROM listings WHERE file_id = ? ORDER BY distribution",
            arguments: [fileID])
    }

    static let fileColumns =
        "f.id, f.name, f.version, f.architecture, f.source, f.pool_path, f.size, f.md5, f.sha1, f.sha256, f.sha512"

    static func file(_ row: Row, offset: Int = 0) -> PackageFile {
        PackageFile(
            id: row[offset], name: row[offset + 1], version: row[offset + 2], architecture: row[offset + 3],
            source: row[offset + 4], poolPath: row[offset + 5],
            checksums: Checksums(
                size: row[offset + 6], md5: row[offset + 7], sha1: row[offset + 8], sha256: row[offset + 9],
                sha512: row[offset + 10]))
    }

    /// Every file of these names.
    static func files(_ db: Database, names: [String]) throws -> [PackageFile] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(fileColumns) FROM package_files f WHERE f.name IN (SELECT value FROM json_each(?))"),
            arguments: [namesJSON(names)]
        ).map { file($0) }
    }

    /// The listings of these names in `distribution`.
    static func listings(_ db: Database, distribution: String, names: [String]) throws -> [Listing] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT l.distribution, l.component, \(fileColumns) FROM package_files f
                    CROSS JOIN listings l ON l.file_id = f.id
                    WHERE f.name IN (SELECT value FROM json_each(?)) AND l.distribution = ?
                    """),
            arguments: [namesJSON(names), distribution]
        ).map { row in Listing(distribution: row[0], component: row[1], file: file(row, offset: 2)) }
    }

    /// Package names as a JSON array, for `json_each`: one bound value however many names.
    static func namesJSON(_ names: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(names), as: UTF8.self)
    }

    static func listings(_ db: Database, distribution: String?, name: String? = nil) throws -> [Listing] {
        // Given a name, CROSS JOIN makes SQLite start from package_files and its name index;
        // left to itself it scans every listing of the distribution, which is quadratic in a
        // push of many files.
        let join = name == nil ? "JOIN" : "CROSS JOIN"
        var sql =
            "SELECT l.distribution, l.component, \(fileColumns) FROM package_files f \(join) listings l ON l.file_id = f.id"
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let distribution {
            conditions.append("l.distribution = ?")
            arguments.append(distribution)
        }
        if let name {
            conditions.append("f.name = ?")
            arguments.append(name)
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map { row in
            Listing(distribution: row[0], component: row[1], file: file(row, offset: 2))
        }
    }

    /// The listed stanzas of one index: a component and an architecture, with `all` packages.
    static func stanzas(_ db: Database, distribution: String, component: String, architecture: String) throws
        -> [IndexRow]
    {
        try Row.fetchAll(
            db,
            sql: """
                SELECT f.name, f.version, f.architecture, f.stanza FROM listings l JOIN package_files f ON f.id = l.file_id
                WHERE l.distribution = ? AND l.component = ? AND (f.architecture = ? OR f.architecture = 'all')
                """,
            arguments: [distribution, component, architecture]
        ).map { IndexRow(name: $0[0], version: $0[1], architecture: $0[2], stanza: $0[3]) }
    }

    /// Lists a file in a distribution. Statements that touch `listings` are cached: each
    /// compilation also compiles the journal's triggers, which costs more than running them.
    static func list(_ db: Database, fileID: Int64, in distribution: String, component: String) throws {
        try db.cachedStatement(sql: "INSERT INTO listings (distribution, component, file_id) VALUES (?, ?, ?)")
            .execute(arguments: [distribution, component, fileID])
    }

    static func unlist(_ db: Database, fileID: Int64, from distribution: String) throws {
        try db.cachedStatement(sql: "DELETE FROM listings WHERE distribution = ? AND file_id = ?")
            .execute(arguments: [distribution, fileID])
    }

    static func markUnpublished(_ db: Database, _ distribution: String) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO unpublished (distribution) VALUES (?)", arguments: [distribution])
    }

    static func recordHistory(
        _ db: Database, operation: String, distribution: String, context: OperationContext, changes: [Change]
    ) throws -> Int64 {
        let changesJSON = String(decoding: try JSONEncoder().encode(changes), as: UTF8.self)
        try db.execute(
            sql:
                "INSERT INTO history (date, operation, distribution, user, command, note, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                context.timestamp, operation, distribution, context.user, context.command,
                context.note, changesJSON,
            ])
        let id = db.lastInsertedRowID
        try db.execute(sql: "UPDATE listing_journal SET history_id = ? WHERE history_id IS NULL", arguments: [id])
        return id
    }

    static func history(_ db: Database, distribution: String?, limit: Int?) throws -> [HistoryEntry] {
        var sql = "SELECT id, date, operation, distribution, user, command, note, changes FROM history"
        var arguments: [any DatabaseValueConvertible] = []
        if let distribution {
            sql += " WHERE distribution = ?"
            arguments.append(distribution)
        }
        sql += " ORDER BY id DESC"
        if let limit { sql += " LIMIT \(limit)" }
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
            let changes = (try? JSONDecoder().decode([Change].self, from: Data((row[7] as String).utf8))) ?? []
            return HistoryEntry(
                id: row[0], date: row[1], operation: row[2], distribution: row[3], user: row[4], command: row[5],
                note: row[6], changes: changes)
        }
    }
}

/// Who runs an operation and why: what history records beside the change itself.
public struct OperationContext: Sendable {
    public var user: String
    public var command: String
    public var note: String?
    /// When the operation started, ISO 8601 in UTC: what history and the pool record.
    public var timestamp: String
    /// Whether whoever asked for the change has gone away (an API client that hung up): a
    /// change that waits for the repository is then not made at all.
    public var isCancelled: @Sendable () -> Bool = { false }

    /// Refuses a note with a NUL: the store would keep only the text before it.
    public init(user: String, command: String, note: String? = nil, date: Date = Date()) throws(DepotError) {
        if let note, note.utf8.contains(0) {
            throw .invalidArgument(
                "the note holds a NUL character, which history cannot keep; send the note without it")
        }
        self.user = user
        self.command = command
        self.note = note
        self.timestamp = ISO8601DateFormatter().string(from: date)
    }

    /// `$USER@host` and the command line of this process.
    public static func currentProcess(note: String? = nil) throws(DepotError) -> OperationContext {
        let user =
            ProcessInfo.processInfo.environment["USER"] ?? getpwuid(getuid()).map {
                String(cString: $0.pointee.pw_name)
            } ?? "unknown"
        let host = ProcessInfo.processInfo.hostName
        let command = CommandLine.arguments.map { ($0 as NSString).lastPathComponent == "depot" ? "depot" : $0 }
        return try OperationContext(user: "\(user)@\(host)", command: command.joined(separator: " "), note: note)
    }
}
