import Foundation

extension Repository {
    /// Expires, in `db`, every distribution a template made that has not changed for its
    /// template's `Expires-After` at `now`: it lists nothing any more (one history entry,
    /// `expire`, which keeps what it listed on record), it is no distribution for any command,
    /// and nothing waits to publish it. Its served tree goes once the transaction committed
    /// (`unpublishExpired`). Returns their names.
    func expireQuietDistributions(_ db: any StoreTransaction, now: Int, context: OperationContext) throws -> [String] {
        var expired: [String] = []
        for made in try MetadataStore.madeDistributions(db) where made.expiredAt == nil {
            guard let expiresAfter = configuration.instance(of: made.name)?.expiresAfter else { continue }
            let lastChange = try MetadataStore.lastChange(db, of: made.name).flatMap(Self.date)
                .map { Int64($0.timeIntervalSince1970) } ?? made.madeAt
            guard Int64(now) - max(lastChange, made.madeAt) >= Int64(expiresAfter) else { continue }
            let listings = try MetadataStore.listings(db, distribution: made.name)
            for listing in listings { try MetadataStore.unlist(db, fileID: listing.file.id, from: made.name) }
            try MetadataStore.stopRamps(db, distribution: made.name, packages: Set(listings.map(\.file.name)))
            var expiry = context
            expiry.note = "unchanged for \(Self.describe(seconds: expiresAfter)) (Expires-After of \(made.template))"
            _ = try MetadataStore.recordHistory(
                db, operation: "expire", distribution: made.name, context: expiry,
                changes: listings.map {
                    Change(
                        package: $0.file.name, architecture: $0.file.architecture, before: $0.file.version, after: nil,
                        beforePhase: $0.phase)
                },
                notifying: [])
            try MetadataStore.recordExpired(db, made.name, at: Int64(now))
            try MetadataStore.markUpToDate(db, made.name)
            expired.append(made.name)
        }
        return expired
    }

    /// Takes the served trees of expired distributions out, each once: after the store
    /// recorded the expiry, so a crash in between leaves it to the next gc.
    func unpublishExpired() throws {
        let pending = try read { db in try MetadataStore.madeDistributions(db) }
            .filter { $0.expiredAt != nil && !$0.unpublished }
        for made in pending {
            try storage.unpublish(made.name)
            try write { db in try MetadataStore.recordUnpublished(db, made.name) }
        }
    }

    /// How many history entries of each distribution gc keeps restorable: depot.conf's
    /// `Retain-History`, a made distribution's template's while it lives, and none once it
    /// expired (its files then go like any unlisted file's).
    func retention(_ db: any StoreTransaction) throws -> [(distribution: String, entries: Int)] {
        let made = try MetadataStore.madeDistributions(db).map { made in
            (made.name, made.expiredAt == nil ? configuration.instance(of: made.name)?.retainHistory ?? 0 : 0)
        }
        return configuration.distributions.map { ($0.name, $0.retainHistory) } + made
    }
}
