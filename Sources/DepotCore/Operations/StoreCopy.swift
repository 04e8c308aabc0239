import Foundation

extension Repository {
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
        let tables = Schema.tables
        let counts = try store.read { source in
            try target.write(commit: true) { destination -> [StoreCopyReport.Table] in
                guard try !MetadataStore.holdsAnyRow(destination) else {
                    throw DepotError.storage(
                        "\(target.location) already holds a repository's data: copy into an empty database or a new file")
                }
                var counts: [StoreCopyReport.Table] = []
                for table in tables {
                    // Listing rows are journalled by triggers as they are written; the journal
                    // copied next is the source's own, exactly.
                    if table.name == "listing_journal" { try MetadataStore.emptyJournal(destination) }
                    let count = try MetadataStore.copy(table, from: source, to: destination, page: Self.copyPage)
                    counts.append(.init(table: table.name, rows: count))
                    progress?(table.name, count)
                }
                return counts
            }
        }
        return StoreCopyReport(destination: target.location, tables: counts)
    }
}
