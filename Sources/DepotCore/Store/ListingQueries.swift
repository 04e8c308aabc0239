import DebianFormat
import Foundation

/// `listings`: which files each distribution lists (the triggers journal every change).
extension MetadataStore {
    static let listingColumns = "l.distribution, l.component, l.phase, \(fileColumns)"

    static func listing(_ row: StoreRow) -> Listing {
        Listing(distribution: row["distribution"], component: row["component"], file: file(row), phase: row["phase"])
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
        ).map {
            IndexRow(
                name: $0["name"], version: $0["version"], architecture: $0["architecture"], stanza: $0["stanza"],
                phase: $0["phase"])
        }
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

    /// How many package files `distribution` lists.
    static func listingCount(_ db: any StoreTransaction, distribution: String) throws -> Int {
        try db.value("SELECT COUNT(*) FROM listings WHERE distribution = ?", [distribution]) ?? 0
    }

    static func unlist(_ db: any StoreTransaction, fileID: Int64, from distribution: String) throws {
        try db.execute("DELETE FROM listings WHERE distribution = ? AND file_id = ?", [distribution, fileID])
    }

    /// The distributions that list a file, by name.
    static func distributions(listing fileID: Int64, _ db: any StoreTransaction) throws -> [String] {
        try db.texts("SELECT DISTINCT distribution FROM listings WHERE file_id = ? ORDER BY distribution", [fileID])
    }

    /// How `distribution` lists the file, if it does.
    static func listingState(_ db: any StoreTransaction, of fileID: Int64, in distribution: String) throws
        -> ListingState?
    {
        try db.rows(
            "SELECT component, phase FROM listings WHERE distribution = ? AND file_id = ?", [distribution, fileID]
        ).first.map { ListingState(component: $0["component"], phase: $0["phase"]) }
    }
}
