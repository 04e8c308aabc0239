import DebianFormat
import Foundation

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
