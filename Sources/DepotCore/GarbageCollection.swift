import AptRepository
import Foundation
import GRDB

extension Repository {
    public struct Collection: Sendable, Codable {
        /// Pool files no distribution lists and no retained history entry can restore.
        public var unreferenced: [String]
        /// Pool files the store does not know: left by a push that was killed before it
        /// committed.
        public var orphaned: [String]
        /// Files in `.depot/incoming/` of pushes that are no longer running.
        public var incoming: [String]
        /// Compressed index chunks in `.depot/cache/` that no published index is made of.
        public var cachedChunks: Int
        /// The bytes of those chunks (counted in `bytes` too).
        public var cachedChunkBytes: Int64
        /// The bytes all of them take.
        public var bytes: Int64
        public var dryRun: Bool
    }

    /// Deletes the pool files that nothing references any more: not listed by any
    /// distribution, and not restorable by any of the latest `Retain-History` history entries
    /// of any distribution. With `dryRun`, only says what it would delete.
    public func collectGarbage(dryRun: Bool = false) throws -> Collection {
        try withLock {
            try publishEarlierChanges()
            let unreferenced = try write(commit: !dryRun) { db in
                let (retained, arguments) = try self.retainedJournal(db)
                let files = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, pool_path FROM package_files
                        WHERE id NOT IN (SELECT file_id FROM listings) AND id NOT IN \(retained)
                        """,
                    arguments: arguments)
                for row in files {
                    try db.execute(sql: "DELETE FROM package_files WHERE id = ?", arguments: [row[0] as Int64])
                }
                return files.map { $0[1] as String }
            }
            let known = try read { db in Set(try String.fetchAll(db, sql: "SELECT pool_path FROM package_files")) }
            let deleted = Set(unreferenced)
            let orphaned = poolFiles().filter { !known.contains($0) && !deleted.contains($0) }
            let incoming = abandonedIncomingFiles()
            let indices = try read { db in
                try self.configuration.distributions.flatMap { try self.indices(db, for: $0) }
            }
            let cache = publisher.pruneChunkCache(keeping: indices, dryRun: dryRun)
            let paths =
                (unreferenced + orphaned).map { publicDirectory + "/" + $0 }
                + incoming.map { incomingDirectory + "/" + $0 }
            let bytes = paths.reduce(cache.bytes) { total, path in
                var status = stat()
                return total + (stat(path, &status) == 0 ? Int64(status.st_size) : 0)
            }
            if !dryRun {
                // The store no longer references these files (committed above): deleting them
                // now can only leave orphans, which the next gc finds, never a dangling row.
                for path in paths { unlink(path) }
                removeEmptyDirectories(under: publicDirectory + "/pool")
            }
            return Collection(
                unreferenced: unreferenced.sorted(), orphaned: orphaned.sorted(), incoming: incoming.sorted(),
                cachedChunks: cache.paths.count, cachedChunkBytes: cache.bytes, bytes: bytes, dryRun: dryRun)
        }
    }

    /// A subquery (and its arguments) for the files of the journal rows within each
    /// distribution's retention window: its latest `Retain-History` entries.
    private func retainedJournal(_ db: Database) throws -> (String, StatementArguments) {
        var windows: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        for distribution in configuration.distributions {
            let oldestRetained =
                try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM history WHERE distribution = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                    arguments: [distribution.name, distribution.retainHistory - 1]) ?? 0
            windows.append("(distribution = ? AND history_id >= ?)")
            arguments += [distribution.name, oldestRetained]
        }
        // Journal rows of distributions no longer in depot.conf are all kept: gc never guesses.
        let names = configuration.distributions.map(\.name)
        windows.append("distribution NOT IN (\(names.map { _ in "?" }.joined(separator: ", ")))")
        arguments += names
        return (
            "(SELECT file_id FROM listing_journal WHERE \(windows.joined(separator: " OR ")))",
            StatementArguments(arguments)
        )
    }

    /// Every `.deb` under `public/pool/`, relative to `public/`.
    private func poolFiles() -> [String] {
        let pool = publicDirectory + "/pool"
        guard let walker = FileManager.default.enumerator(atPath: pool) else { return [] }
        var files: [String] = []
        while let path = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { files.append("pool/" + path) }
        }
        return files
    }

    /// Files in `.depot/incoming/` whose push (the process named in the file name) has ended.
    private func abandonedIncomingFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: incomingDirectory)) ?? []
        return names.filter { name in
            guard let pid = IncomingPackage.processID(fromFileName: name) else { return true }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
    }

    /// Removes directories of the pool that gc emptied, deepest first.
    private func removeEmptyDirectories(under root: String) {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        var directories: [String] = []
        while let path = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { directories.append(path) }
        }
        for directory in directories.sorted(by: { $0.count > $1.count }) { rmdir(root + "/" + directory) }
    }
}
