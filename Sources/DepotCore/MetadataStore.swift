import DebianFormat
import Foundation

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
    /// The `Phased-Update-Percentage` this distribution's `Packages` gives the file; nil when
    /// it is fully rolled out.
    public var phase: Int?
}

/// One change a history entry records: a package's version in a distribution before and
/// after (nil when absent).
public struct Change: Sendable, Hashable, Codable {
    public var package: String
    public var architecture: String
    public var before: String?
    public var after: String?
    /// The phase of the newest version before and after, when either is phased (nil: fully
    /// rolled out, or absent).
    public var beforePhase: Int?
    public var afterPhase: Int?

    public init(
        package: String, architecture: String, before: String?, after: String?, beforePhase: Int? = nil,
        afterPhase: Int? = nil
    ) {
        self.package = package
        self.architecture = architecture
        self.before = before
        self.after = after
        self.beforePhase = beforePhase
        self.afterPhase = afterPhase
    }
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
    /// The promotion gates a promotion was let past with `--override-gates`.
    public var overriddenGates: [String]?
}

/// A listed file as a `Packages` index shows it.
struct IndexRow: Sendable {
    var name: String
    var version: String
    var architecture: String
    var stanza: String

    /// The stored stanza, with the distribution's phase of the file (which differs between
    /// distributions listing the same file) as the last field.
    init(name: String, version: String, architecture: String, stanza: String, phase: Int?) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.stanza = phase.map { stanza + "Phased-Update-Percentage: \($0)\n" } ?? stanza
    }
}

/// The store's queries, written once for every store: each takes the transaction it runs in.
enum MetadataStore {
    /// Whether gc keeps the file of the tree at `path` for clients that may still fetch it.
    static func isKeptForClients(_ db: any StoreTransaction, path: String) throws -> Bool {
        try db.exists("SELECT 1 FROM storage_garbage WHERE path = ?", [path])
    }

    /// Of these paths of the tree, the ones gc keeps for clients, found in one query.
    static func keptForClients(_ db: any StoreTransaction, paths: [String]) throws -> Set<String> {
        guard !paths.isEmpty else { return [] }
        let list = try json(paths)
        return Set(try db.texts("SELECT path FROM storage_garbage WHERE path IN \(db.dialect.jsonArrayValues)", [list]))
    }

    /// Records the names a file's `Provides` field gives (nothing when it has none, or when
    /// the field does not parse: such a file provides nothing a check could rely on).
    static func recordProvides(_ db: any StoreTransaction, fileID: Int64, provides: String?) throws {
        guard let provides, let relations = try? RelationshipList(parsing: provides) else { return }
        for provided in relations.requirements.joined() {
            try db.execute(
                "INSERT INTO provides (file_id, name, version) VALUES (?, ?, ?)",
                [fileID, provided.package, provided.version?.version.description])
        }
    }

    /// The distributions that list a file, by name.
    static func distributions(listing fileID: Int64, _ db: any StoreTransaction) throws -> [String] {
        try db.texts("SELECT DISTINCT distribution FROM listings WHERE file_id = ? ORDER BY distribution", [fileID])
    }

    static let fileColumns =
        "f.id, f.name, f.version, f.architecture, f.source, f.pool_path, f.size, f.md5, f.sha1, f.sha256, f.sha512"

    static func file(_ row: StoreRow, offset: Int = 0) -> PackageFile {
        PackageFile(
            id: row[offset], name: row[offset + 1], version: row[offset + 2], architecture: row[offset + 3],
            source: row[offset + 4], poolPath: row[offset + 5],
            checksums: Checksums(
                size: row[offset + 6], md5: row[offset + 7], sha1: row[offset + 8], sha256: row[offset + 9],
                sha512: row[offset + 10]))
    }

    /// Every file of these names.
    static func files(_ db: any StoreTransaction, names: [String]) throws -> [PackageFile] {
        try db.rows(
            "SELECT \(fileColumns) FROM package_files f WHERE f.name IN \(db.dialect.jsonArrayValues)",
            [json(names)]
        ).map { file($0) }
    }

    /// The listings of these names in `distribution`.
    static func listings(_ db: any StoreTransaction, distribution: String, names: [String]) throws -> [Listing] {
        try db.rows(
            """
            SELECT \(listingColumns) FROM package_files f
            \(db.dialect.joinInThisOrder) listings l ON l.file_id = f.id
            WHERE f.name IN \(db.dialect.jsonArrayValues) AND l.distribution = ?
            """,
            [json(names), distribution]
        ).map(listing)
    }

    static let listingColumns = "l.distribution, l.component, l.phase, \(fileColumns)"

    static func listing(_ row: StoreRow) -> Listing {
        Listing(distribution: row[0], component: row[1], file: file(row, offset: 3), phase: row[2])
    }

    /// A value as JSON text: an array of names or ids bound to one `?` for `json_each`
    /// however many it holds, or a column the store keeps as JSON.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func listings(_ db: any StoreTransaction, distribution: String?, name: String? = nil) throws -> [Listing] {
        // Given a name, CROSS JOIN makes SQLite start from package_files and its name index;
        // left to itself it scans every listing of the distribution, which is quadratic in a
        // push of many files.
        let join = name == nil ? "JOIN" : db.dialect.joinInThisOrder
        var sql = "SELECT \(listingColumns) FROM package_files f \(join) listings l ON l.file_id = f.id"
        var conditions: [String] = []
        var arguments: [any StoreValueConvertible] = []
        if let distribution {
            conditions.append("l.distribution = ?")
            arguments.append(distribution)
        }
        if let name {
            conditions.append("f.name = ?")
            arguments.append(name)
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        return try db.rows(sql, arguments).map(listing)
    }

    /// The listed stanzas of one index: a component and an architecture, with `all` packages.
    static func stanzas(_ db: any StoreTransaction, distribution: String, component: String, architecture: String)
        throws -> [IndexRow]
    {
        try db.rows(
            """
            SELECT f.name, f.version, f.architecture, f.stanza, l.phase
            FROM listings l JOIN package_files f ON f.id = l.file_id
            WHERE l.distribution = ? AND l.component = ? AND (f.architecture = ? OR f.architecture = 'all')
            """,
            [distribution, component, architecture]
        ).map { IndexRow(name: $0[0], version: $0[1], architecture: $0[2], stanza: $0[3], phase: $0[4]) }
    }

    /// Listing rows a change adds and removes, kept in order and written together: many
    /// rows in one statement, where each statement is a round trip to a server.
    final class ListingWrites {
        private enum Write {
            case list(fileID: Int64, distribution: String, component: String, phase: Int?)
            case unlist(fileID: Int64, distribution: String)
        }

        private var writes: [Write] = []
        /// Rows per `INSERT`: SQLite takes at most 32,766 arguments in one statement.
        private static let rowsPerStatement = 500

        func list(fileID: Int64, in distribution: String, component: String, phase: Int? = nil) {
            writes.append(.list(fileID: fileID, distribution: distribution, component: component, phase: phase))
        }

        func unlist(fileID: Int64, from distribution: String) {
            writes.append(.unlist(fileID: fileID, distribution: distribution))
        }

        /// Writes what was kept, in its order (so the journal the triggers write reads the
        /// same as row by row); call before anything reads listings or claims the journal.
        func flush(_ db: any StoreTransaction) throws {
            var pending: [(fileID: Int64, distribution: String, component: String, phase: Int?)] = []
            func insertPending() throws {
                for chunk in stride(from: 0, to: pending.count, by: Self.rowsPerStatement) {
                    let rows = pending[chunk..<min(chunk + Self.rowsPerStatement, pending.count)]
                    try db.execute(
                        "INSERT INTO listings (distribution, component, file_id, phase) VALUES "
                            + Array(repeating: "(?, ?, ?, ?)", count: rows.count).joined(separator: ", "),
                        rows.flatMap { [$0.distribution, $0.component, $0.fileID, $0.phase] as [any StoreValueConvertible] })
                }
                pending.removeAll()
            }
            for write in writes {
                switch write {
                case .list(let fileID, let distribution, let component, let phase):
                    pending.append((fileID, distribution, component, phase))
                case .unlist(let fileID, let distribution):
                    try insertPending()
                    try MetadataStore.unlist(db, fileID: fileID, from: distribution)
                }
            }
            try insertPending()
            writes.removeAll()
        }
    }

    /// Lists a file in a distribution; the store's triggers journal the row.
    static func list(
        _ db: any StoreTransaction, fileID: Int64, in distribution: String, component: String, phase: Int? = nil
    ) throws {
        try db.execute(
            "INSERT INTO listings (distribution, component, file_id, phase) VALUES (?, ?, ?, ?)",
            [distribution, component, fileID, phase])
    }

    static func unlist(_ db: any StoreTransaction, fileID: Int64, from distribution: String) throws {
        try db.execute("DELETE FROM listings WHERE distribution = ? AND file_id = ?", [distribution, fileID])
    }

    /// The configuration the repository was made with, or last recorded for every node.
    static func recordedConfiguration(_ db: any StoreTransaction) throws -> String? {
        try db.value("SELECT configuration FROM repository_configuration")
    }

    /// Records that `distribution` changed: its next generation waits to be published.
    static func markUnpublished(_ db: any StoreTransaction, _ distribution: String) throws {
        try db.execute(
            """
            INSERT INTO publication (distribution, recorded, published) VALUES (?, 1, 0)
            ON CONFLICT (distribution) DO UPDATE SET recorded = publication.recorded + 1
            """, [distribution])
    }

    /// The distributions with changes their served tree does not show yet.
    static func unpublished(_ db: any StoreTransaction) throws -> [String] {
        try db.texts("SELECT distribution FROM publication WHERE recorded > published ORDER BY distribution")
    }

    /// The generation of `distribution` the store holds, when it is not published yet.
    static func unpublishedGeneration(_ db: any StoreTransaction, _ distribution: String) throws -> Int64? {
        try db.value(
            "SELECT recorded FROM publication WHERE distribution = ? AND recorded > published", [distribution])
    }

    /// Records that the tree shows generation `generation` of `distribution`, signed at
    /// `signed` (seconds since the epoch); never lowers it.
    static func markPublished(_ db: any StoreTransaction, _ distribution: String, generation: Int64, signed: Int)
        throws
    {
        try db.execute(
            "UPDATE publication SET published = ?, signed_at = ? WHERE distribution = ? AND published < ?",
            [generation, signed, distribution, generation])
    }

    /// When each distribution's served `Release` was signed (seconds since the epoch); nil
    /// for one published before Depot recorded it.
    static func signingTimes(_ db: any StoreTransaction) throws -> [String: Int64?] {
        Dictionary(
            try db.rows("SELECT distribution, signed_at FROM publication").map { ($0[0] as String, $0[1] as Int64?) },
            uniquingKeysWith: { first, _ in first })
    }

    static func recordHistory(
        _ db: any StoreTransaction, operation: String, distribution: String, context: OperationContext,
        changes: [Change], overriddenGates: [String] = []
    ) throws -> Int64 {
        let changesJSON = try json(changes)
        let overridden = overriddenGates.isEmpty ? nil : overriddenGates.joined(separator: ", ")
        let id: Int64 =
            try db.value(
                """
                INSERT INTO history (date, operation, distribution, "user", command, note, changes, overridden_gates)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                [
                    context.timestamp, operation, distribution, context.user, context.command, context.note,
                    changesJSON, overridden,
                ])
            ?? 0
        try db.execute("UPDATE listing_journal SET history_id = ? WHERE history_id IS NULL", [id])
        return id
    }

    static func history(_ db: any StoreTransaction, distribution: String?, limit: Int?) throws -> [HistoryEntry] {
        var sql =
            "SELECT id, date, operation, distribution, \"user\", command, note, changes, overridden_gates FROM history"
        var arguments: [any StoreValueConvertible] = []
        if let distribution {
            sql += " WHERE distribution = ?"
            arguments.append(distribution)
        }
        sql += " ORDER BY id DESC"
        if let limit { sql += " LIMIT \(limit)" }
        return try db.rows(sql, arguments).map { row in
            let changes = (try? JSONDecoder().decode([Change].self, from: Data((row[7] as String).utf8))) ?? []
            return HistoryEntry(
                id: row[0], date: row[1], operation: row[2], distribution: row[3], user: row[4], command: row[5],
                note: row[6], changes: changes,
                overriddenGates: (row[8] as String?).map { $0.components(separatedBy: ", ") })
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

    /// The longest note history keeps, in bytes of UTF-8: a page that shows notes stays a page.
    public static let longestNote = 64 << 10

    /// Refuses a note with a NUL (the store would keep only the text before it) and one
    /// longer than `longestNote`.
    public init(user: String, command: String, note: String? = nil, date: Date = Date()) throws(DepotError) {
        if let note, note.utf8.contains(0) {
            throw .invalidArgument(
                "the note holds a NUL character, which history cannot keep; send the note without it")
        }
        if let note, note.utf8.count > Self.longestNote {
            throw .invalidArgument(
                "the note is \(note.utf8.count) bytes long; a note is at most \(Self.longestNote) bytes (64 KiB): "
                    + "link to longer text instead")
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
