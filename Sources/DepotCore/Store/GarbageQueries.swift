import DebianFormat
import Foundation

/// `storage_garbage`: what the served tree holds that nothing references, since when.
extension MetadataStore {
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

    /// What a publish changed: the paths its `Release` names are garbage no more, and those
    /// only the replaced one named are garbage from `now` on.
    static func recordPublished(_ db: any StoreTransaction, named: [String], superseded: [String], now: Int) throws {
        for path in named {
            try db.execute("DELETE FROM storage_garbage WHERE path = ?", [path])
        }
        for path in superseded {
            try db.execute("INSERT INTO storage_garbage (path, since) VALUES (?, ?) ON CONFLICT DO NOTHING", [path, now])
        }
    }

    /// Deletes the records of the files no distribution lists and no retained journal row
    /// names (`retention`: each distribution and how many of its latest history entries it
    /// keeps; the journal of a distribution not named is kept whole), recording their pool
    /// paths as garbage from `now`.
    static func collectUnreferencedFiles(
        _ db: any StoreTransaction, retention: [(distribution: String, entries: Int)], now: Int
    ) throws {
        var windows: [String] = []
        var arguments: [any StoreValueConvertible] = []
        for (distribution, entries) in retention {
            // No entry retained: none of its journal rows keeps a file.
            let oldestRetained: Int64 =
                entries == 0
                ? Int64.max
                : try db.value(
                    "SELECT id FROM history WHERE distribution = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                    [distribution, entries - 1]) ?? 0
            windows.append("(distribution = ? AND history_id >= ?)")
            arguments += [distribution, oldestRetained]
        }
        windows.append("distribution NOT IN (\(retention.map { _ in "?" }.joined(separator: ", ")))")
        arguments += retention.map(\.distribution)
        let files = try db.rows(
            """
            SELECT id, pool_path FROM package_files
            WHERE id NOT IN (SELECT file_id FROM listings)
            AND id NOT IN (SELECT file_id FROM listing_journal WHERE \(windows.joined(separator: " OR ")))
            """,
            arguments)
        for row in files {
            try db.execute("DELETE FROM package_files WHERE id = ?", [row["id"] as Int64])
            try db.execute(
                "INSERT INTO storage_garbage (path, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [row["pool_path"] as String, now])
        }
        // A file pushed again since it became garbage is referenced again.
        try db.execute("DELETE FROM storage_garbage WHERE path IN (SELECT pool_path FROM package_files)")
    }

    /// Takes the garbage recorded at or before `due` off the record, and returns it, with
    /// the garbage still in its grace period.
    static func takeGarbage(_ db: any StoreTransaction, due: Int) throws -> (due: [String], kept: [String]) {
        let taken = try db.texts("SELECT path FROM storage_garbage WHERE since <= ? ORDER BY path", [due])
        let kept = try db.texts("SELECT path FROM storage_garbage WHERE since > ? ORDER BY path", [due])
        try db.execute("DELETE FROM storage_garbage WHERE since <= ?", [due])
        return (taken, kept)
    }
}
