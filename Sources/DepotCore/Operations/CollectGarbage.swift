import AptRepository
import Foundation

extension Repository {
    /// Deletes the pool files that nothing references any more: not listed by any
    /// distribution, and not restorable by any of the latest `Retain-History` history entries
    /// of any distribution; with a bucket, also the `by-hash/` indices no `Release` names, and
    /// each only once nothing has referenced it for the storage's grace period. With
    /// `dryRun`, only says what it would delete. Expires, first, the distributions templates
    /// made that have not changed for their `Expires-After`. Forgets webhook deliveries finished more
    /// than `WebhookDelivery.keptFor` ago.
    public func collectGarbage(dryRun: Bool = false, context: OperationContext) throws -> GarbageCollectionReport {
        // gc changes what the pool holds, never what an index names: nothing to publish.
        try change("garbage collection") { notes in
            notes.publishes = false
            let now = Int(Date().timeIntervalSince1970)
            let grace = storage.gcGrace
            let (expired, due, kept) = try write(commit: !dryRun) { db in
                let expired = try self.expireQuietDistributions(db, now: now, context: context)
                // Journal rows of distributions no longer in depot.conf are all kept: gc never guesses.
                try MetadataStore.collectUnreferencedFiles(db, retention: try self.retention(db), now: now)
                try MetadataStore.forgetFinishedDeliveries(
                    db, before: Int64(now - WebhookDelivery.keptFor) * 1000)
                let (due, kept) = try MetadataStore.takeGarbage(db, due: now - grace)
                return (expired, due, kept)
            }
            if !dryRun { try unpublishExpired() }
            let known = try read { db in try MetadataStore.poolPaths(db) }
            let pool = try storage.poolFiles()
            let sizes = Dictionary(pool.map { ($0.path, $0.size) }, uniquingKeysWith: { a, _ in a })
            let accounted = Set(due).union(kept)
            // A file no change recorded was put there by a push that never committed, or one
            // running on another node: it too is given the grace period, from when it was written.
            let orphaned = pool.filter { !known.contains($0.path) && !accounted.contains($0.path) && $0.age >= grace }
                .map(\.path)
            // Likewise an index a publish wrote before it stopped, which no Release names.
            let unnamed = try storage.unnamedIndexFiles()
                .filter { !accounted.contains($0.path) && $0.age >= grace }.map(\.path)
            let incoming = abandonedIncomingFiles()
            let live = try distributions()
            let indices = try read { db in try live.flatMap { try self.indices(db, for: $0) } }
            let cache = publisher.pruneChunkCache(keeping: indices, dryRun: dryRun)
            let duePool = due.filter { $0.hasPrefix("pool/") }
            let superseded = due.filter { !$0.hasPrefix("pool/") } + unnamed
            let bytes = (duePool + orphaned).reduce(cache.bytes) { $0 + (sizes[$1] ?? 0) }
                + incoming.reduce(0) { total, name in
                    var status = stat()
                    return total + (stat(incomingDirectory + "/" + name, &status) == 0 ? Int64(status.st_size) : 0)
                }
            if !dryRun {
                // The store no longer references these files (committed above): deleting them
                // now can only leave orphans, which a later gc finds, never a dangling row.
                try storage.delete(due + orphaned + unnamed)
                for name in incoming { unlink(incomingDirectory + "/" + name) }
            }
            return GarbageCollectionReport(
                expired: expired, unreferenced: duePool,
                orphaned: orphaned.sorted(), superseded: superseded.sorted(), kept: kept.sorted(),
                incoming: incoming.sorted(), cachedChunks: cache.paths.count, cachedChunkBytes: cache.bytes,
                bytes: bytes, dryRun: dryRun)
        }
    }

    /// Files in `.depot/incoming/` whose push (the process named in the file name) has ended.
    private func abandonedIncomingFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: incomingDirectory)) ?? []
        return names.filter { name in
            guard let pid = IncomingPackage.processID(fromFileName: name) else { return true }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
    }
}
