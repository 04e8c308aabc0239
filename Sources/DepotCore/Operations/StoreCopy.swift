import Foundation

extension Repository {
    /// A table a copy carries over: its columns, and the one that orders its rows (for paging).
    private struct CopiedTable {
        var name: String
        var columns: [String]
        var order: String
        /// An identity column whose values are copied, so that references to them still hold.
        var identity: String?
    }

    /// In an order that keeps every reference pointing at a row already copied.
    private static let copiedTables = [
        CopiedTable(
            name: "package_files",
            columns: [
                "id", "name", "version", "architecture", "source", "pool_path", "size", "md5", "sha1", "sha256",
                "sha512", "control", "stanza", "added_at",
            ], order: "id", identity: "id"),
        CopiedTable(name: "provides", columns: ["file_id", "name", "version"], order: "file_id, name"),
        CopiedTable(
            name: "history",
            columns: [
                "id", "date", "operation", "distribution", "\"user\"", "command", "note", "changes", "overridden_gates",
            ],
            order: "id", identity: "id"),
        CopiedTable(
            name: "listings", columns: ["distribution", "component", "file_id", "phase"], order: "distribution, file_id"),
        CopiedTable(
            name: "listing_journal",
            columns: [
                "sequence", "history_id", "distribution", "component", "file_id", "package", "version",
                "architecture", "listed", "phase",
            ], order: "sequence", identity: "sequence"),
        CopiedTable(
            name: "phase_ramps",
            columns: ["distribution", "package", "version", "steps", "every_seconds", "next_at", "\"user\""],
            order: "distribution, package"),
        CopiedTable(
            name: "approvals", columns: ["distribution", "file_id", "\"user\"", "date", "note"],
            order: "distribution, file_id, \"user\""),
        CopiedTable(name: "sessions", columns: ["hash", "token_hash", "csrf", "expires", "began"], order: "hash"),
        CopiedTable(name: "tokens", columns: ["name", "hash", "scopes", "created_at"], order: "name"),
        CopiedTable(name: "revoked_tokens", columns: ["name", "revoked_at"], order: "name"),
        CopiedTable(name: "storage_garbage", columns: ["path", "since"], order: "path"),
        CopiedTable(
            name: "publication", columns: ["distribution", "recorded", "published", "signed_at"], order: "distribution"),
        CopiedTable(name: "repository_configuration", columns: ["configuration"], order: "configuration"),
    ]

    /// Rows read and written at a time: a store of 100,000 packages is never all in memory.
    private static let copyPage = 2_000

    /// Copies the whole store (files, listings, history and its journal, tokens, the garbage
    /// record, the configuration) as one snapshot into `destination`: an empty PostgreSQL
    /// database (`postgresql://...`), or a new SQLite file (a path). The copy is one
    /// transaction: it is all there, or nothing is.
    public func copyStore(to destination: String, progress: ((String, Int) -> Void)? = nil) throws -> StoreCopyReport {
        let target: any Store
        if destination.hasPrefix("postgresql://") || destination.hasPrefix("postgres://") {
            target = try PostgresStore(url: destination, lockTimeout: lockTimeout)
        } else {
            let path = Self.absolute(destination)
            // lstat, not fileExists: a dangling symbolic link would be written through.
            var information = stat()
            guard lstat(path, &information) != 0 else {
                throw DepotError.invalidArgument(
                    "\(path) exists: a store is copied into a new SQLite file (or an empty PostgreSQL database)")
            }
            do {
                target = try SQLiteStore(path: path, busyTimeout: lockTimeout)
            } catch {
                throw DepotError.store(error, path: path)
            }
        }
        let tables = Self.copiedTables
        let counts = try store.read { source in
            try target.write(commit: true) { destination -> [StoreCopyReport.Table] in
                let held = try tables.filter { table in try destination.exists("SELECT 1 FROM \(table.name)") }
                guard held.isEmpty else {
                    throw DepotError.storage(
                        "\(target.location) already holds a repository's data: copy into an empty database or a new file")
                }
                var counts: [StoreCopyReport.Table] = []
                for table in tables {
                    // Listing rows are journalled by triggers as they are written; the journal
                    // copied next is the source's own, exactly.
                    if table.name == "listing_journal" { try destination.execute("DELETE FROM listing_journal") }
                    let count = try Self.copy(table, from: source, to: destination)
                    counts.append(.init(table: table.name, rows: count))
                    progress?(table.name, count)
                }
                return counts
            }
        }
        return StoreCopyReport(destination: target.location, tables: counts)
    }

    private static func copy(_ table: CopiedTable, from source: any StoreTransaction, to destination: any StoreTransaction)
        throws -> Int
    {
        let columns = table.columns.joined(separator: ", ")
        let placeholders = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
        let insert =
            "INSERT INTO \(table.name) (\(columns)) \(table.identity == nil ? "" : destination.dialect.givingIdentityValues) VALUES (\(placeholders))"
        var copied = 0
        while true {
            let rows = try source.rows(
                "SELECT \(columns) FROM \(table.name) ORDER BY \(table.order) LIMIT ? OFFSET ?", [copyPage, copied])
            for row in rows { try destination.execute(insert, row.values) }
            copied += rows.count
            if rows.count < copyPage { break }
        }
        // The copy's counter goes on where the source's did, not after the highest id still
        // present: an id gc freed is never given again.
        if let identity = table.identity {
            let issued: Int64 = try source.value(source.dialect.issuedIdentities(table.name, identity)) ?? 0
            let present: Int64 = try destination.value("SELECT COALESCE(MAX(\(identity)), 0) FROM \(table.name)") ?? 0
            let counter = max(issued, present)
            if counter > 0 {
                for statement in destination.dialect.continueIdentities(table.name, identity) {
                    try destination.execute(statement, [counter])
                }
            }
        }
        return copied
    }
}
