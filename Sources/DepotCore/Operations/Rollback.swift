import DebianFormat

extension Repository {
    /// Undoes the latest change of each package the request names, or every change after the
    /// history entry it names; then reports the dependencies the rollback left unmet.
    public func rollback(_ request: RollbackRequest, context: OperationContext) throws -> RollbackOutcome {
        try request.validate()
        if let entry = request.to { return try rollback(request.distribution, to: entry, context: context) }
        return try rollback(request.packages, in: request.distribution, context: context)
    }

    /// Puts back, for each package, the listings it had in `distribution` before its latest
    /// change there: the latest change is undone exactly, for every architecture it touched.
    private func rollback(_ packages: [String], in distribution: String, context: OperationContext) throws
        -> RollbackOutcome
    {
        let rollback = try change("rollback", in: distribution, context: context) { _ in
            try write { db in
                var rows: [JournalRow] = []
                var undone: [Int64] = []
                for package in packages {
                    guard let latest = try MetadataStore.latestChange(db, of: package, in: distribution) else {
                        throw DepotError.nothingToRollBack(package: package, distribution: distribution)
                    }
                    rows += try MetadataStore.journal(db, entry: latest, distribution: distribution, package: package)
                    if !undone.contains(latest) { undone.append(latest) }
                }
                return try self.undo(rows, in: distribution, undone: undone.sorted(by: >), context: context, db)
            }
        }
        return try withUnmetDependencies(rollback)
    }

    /// Restores `distribution` to exactly what it listed right after history entry `id`, by
    /// undoing every later change to it, newest first.
    private func rollback(_ distribution: String, to id: Int64, context: OperationContext) throws -> RollbackOutcome {
        let rollback = try change("rollback", in: distribution, context: context) { _ in
            try write { db in
                guard try MetadataStore.historyEntryExists(db, id) else {
                    throw DepotError.unknownHistoryEntry(id, distribution: distribution)
                }
                let later = try MetadataStore.entries(db, of: distribution, after: id)
                // Entries written before the journal existed cannot be undone exactly; entries
                // that changed no listing (a stopped ramp) have nothing to undo.
                if let unjournaled = later.first(where: { !$0.undoable }) {
                    throw DepotError.historyNotUndoable(entry: unjournaled.id, distribution: distribution)
                }
                let rows = try MetadataStore.journal(db, after: id, distribution: distribution)
                return try self.undo(rows, in: distribution, undone: later.map(\.id), context: context, db)
            }
        }
        return try withUnmetDependencies(rollback)
    }

    /// Applies the inverse of journal rows given newest first, and records the rollback as a
    /// history entry of its own (so it can be rolled back in turn).
    private func undo(
        _ rows: [JournalRow], in distribution: String, undone: [Int64], context: OperationContext,
        _ db: any StoreTransaction
    ) throws -> RollbackOutcome {
        let names = Set(rows.map(\.package))
        let before = try newestVersions(db, distribution: distribution, names: names)
        // Replay the inverse on what is listed now, then change only what differs: the
        // rollback's own journal holds its net effect, not every step it undid.
        let rowByFile = Dictionary(rows.map { ($0.fileID, $0) }, uniquingKeysWith: { newest, _ in newest })
        let fileIDs = rowByFile.keys.sorted()
        var current: [Int64: ListingState] = [:]
        for fileID in fileIDs {
            current[fileID] = try MetadataStore.listingState(db, of: fileID, in: distribution)
        }
        var restored = current
        for row in rows { restored[row.fileID] = row.listed ? nil : row.state }
        var changedListings = false
        for (fileID, state) in current where restored[fileID] != state {
            changedListings = true
            try MetadataStore.unlist(db, fileID: fileID, from: distribution)
        }
        for fileID in fileIDs where restored[fileID] != nil && current[fileID] != restored[fileID] {
            changedListings = true
            let row = rowByFile[fileID]!
            guard try MetadataStore.fileExists(db, fileID) else {
                throw DepotError.fileCollected(
                    file: "\(row.package) \(row.version) (\(row.architecture))", distribution: distribution,
                    historyID: row.historyID)
            }
            let state = restored[fileID]!
            try MetadataStore.list(db, fileID: fileID, in: distribution, component: state.component, phase: state.phase)
        }
        let after = try newestVersions(db, distribution: distribution, names: names)
        let changes = Set(before.keys).union(after.keys).sorted {
            ($0.name, $0.architecture) < ($1.name, $1.architecture)
        }
        .compactMap { key -> Change? in
            let (old, new) = (before[key], after[key])
            guard old?.file.version != new?.file.version || old?.phase != new?.phase else { return nil }
            return Change(
                package: key.name, architecture: key.architecture, before: old?.file.version, after: new?.file.version,
                beforePhase: old?.phase, afterPhase: new?.phase)
        }
        // A rollback stops the ramps of what it touched: the schedule was made for the state
        // it undoes.
        try MetadataStore.stopRamps(db, distribution: distribution, packages: names)
        if changedListings {
            _ = try MetadataStore.recordHistory(
                db, operation: "rollback", distribution: distribution, context: context, changes: changes,
                notifying: configuration.webhooks)
            try MetadataStore.markUnpublished(db, distribution)
        }
        return RollbackOutcome(distribution: distribution, undone: undone, changes: changes)
    }

    /// `rollback`, with the dependencies its changes left unmet.
    private func withUnmetDependencies(_ rollback: RollbackOutcome) throws -> RollbackOutcome {
        guard !rollback.changes.isEmpty else { return rollback }
        var checked = rollback
        checked.unmetDependencies = try unmetDependencies(
            in: rollback.distribution, among: Set(rollback.changes.map(\.package)))
        return checked
    }

    /// The newest listing each of these packages has in `distribution`, by architecture.
    private func newestVersions(_ db: any StoreTransaction, distribution: String, names: Set<String>) throws
        -> [PackageKey: Listing]
    {
        newest(try MetadataStore.listings(db, distribution: distribution, names: Array(names)))
    }
}
