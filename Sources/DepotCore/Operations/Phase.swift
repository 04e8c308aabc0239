import DebianFormat
import Foundation

extension Repository {
    /// Sets the `Phased-Update-Percentage` of the newest version the request's distribution
    /// lists of its package (every architecture): 100 rolls it out fully (the field goes), 0
    /// halts it. A ramp sets its first step now and the next ones `every` apart, until the
    /// last. Either stops an earlier ramp of the package.
    public func phase(_ request: PhaseRequest, context: OperationContext) throws -> PhaseChange {
        let (distribution, package) = (request.distribution, request.package)
        switch try request.plan() {
        case .percentage(let percentage):
            return try changingPhases(in: distribution, context: context) { db in
                try MetadataStore.stopRamps(db, distribution: distribution, packages: [package])
                return try self.setPhase(package, in: distribution, to: percentage, context: context, db)
            }
        case .ramp(let steps, let every):
            return try changingPhases(in: distribution, context: context) { db in
                try MetadataStore.stopRamps(db, distribution: distribution, packages: [package])
                var change = try self.setPhase(package, in: distribution, to: steps[0], context: context, db)
                let rest = Array(steps.dropFirst())
                if !rest.isEmpty {
                    let ramp = Ramp(
                        distribution: distribution, package: package, version: change.version, steps: rest,
                        every: every, next: Self.timestamp(Date().addingTimeInterval(Double(every))),
                        user: context.user)
                    try MetadataStore.saveRamp(db, ramp)
                    change.ramp = ramp
                }
                return change
            }
        }
    }

    /// Takes every ramp step that is due by `now`, each a history entry of the ramp's user.
    /// A ramp whose version is no longer the newest its distribution lists ends unapplied.
    public func advancePhases(now: Date = Date(), command: String) throws -> [PhaseChange] {
        let due = try read { db in try MetadataStore.ramps(db).filter { (Self.date($0.next) ?? now) <= now } }
        var done: [PhaseChange] = []
        for ramp in due {
            let context = try OperationContext(
                user: ramp.user, command: command, note: "ramp step: \(ramp.steps[0])%", date: now)
            let change = try changingPhases(in: ramp.distribution, context: context) { db -> PhaseChange? in
                // Read again under the lock: another node or a manual change may have taken it.
                guard let current = try MetadataStore.ramps(db, distribution: ramp.distribution)
                    .first(where: { $0.package == ramp.package }), current == ramp
                else { return nil }
                try MetadataStore.stopRamps(db, distribution: ramp.distribution, packages: [ramp.package])
                let newest = try MetadataStore.listings(db, distribution: ramp.distribution, name: ramp.package)
                    .map(\.file).max { $0.debianVersion < $1.debianVersion }
                guard newest?.version == ramp.version else { return nil }
                var change = try self.setPhase(
                    ramp.package, in: ramp.distribution, to: ramp.steps[0], context: context, db)
                if ramp.steps.count > 1 {
                    var next = ramp
                    next.steps.removeFirst()
                    next.next = Self.timestamp(now.addingTimeInterval(Double(ramp.every)))
                    try MetadataStore.saveRamp(db, next)
                    change.ramp = next
                }
                return change
            }
            if let change { done.append(change) }
        }
        return done
    }

    /// The ramps under way, by distribution and package.
    public func ramps() throws -> [Ramp] {
        try read { db in try MetadataStore.ramps(db) }
    }

    /// Runs `body` in a write transaction under the repository lock, and publishes the
    /// distribution if it recorded a change.
    private func changingPhases<T>(
        in distribution: String, context: OperationContext, _ body: @escaping (any StoreTransaction) throws -> T
    ) throws -> T {
        try change("phase change", in: distribution, context: context) { _ in try write(body) }
    }

    /// Relists the newest version's files with the new phase: the journal then holds the
    /// old and new phase, and a rollback restores it as it restores any listing.
    private func setPhase(
        _ package: String, in distribution: String, to percentage: Int, context: OperationContext,
        _ db: any StoreTransaction
    ) throws -> PhaseChange {
        let listed = try MetadataStore.listings(db, distribution: distribution, name: package)
        guard let newest = listed.max(by: { $0.file.debianVersion < $1.file.debianVersion }) else {
            throw DepotError.notListed(distribution: distribution, package: package, version: nil)
        }
        let phase = percentage == 100 ? nil : percentage
        let files = listed.filter { $0.file.debianVersion == newest.file.debianVersion }
            .sorted { $0.file.architecture < $1.file.architecture }
        var result = PhaseChange(
            distribution: distribution, package: package, version: newest.file.version,
            before: newest.phase ?? 100, after: percentage, ramp: nil, changes: [])
        let writes = MetadataStore.ListingWrites()
        for listing in files where listing.phase != phase {
            writes.unlist(fileID: listing.file.id, from: distribution)
            writes.list(fileID: listing.file.id, in: distribution, component: listing.component, phase: phase)
            result.changes.append(
                Change(
                    package: package, architecture: listing.file.architecture, before: listing.file.version,
                    after: listing.file.version, beforePhase: listing.phase, afterPhase: phase))
        }
        guard !result.changes.isEmpty else { return result }
        try writes.flush(db)
        _ = try MetadataStore.recordHistory(
            db, operation: "phase", distribution: distribution, context: context, changes: result.changes,
            notifying: configuration.webhooks)
        try MetadataStore.markUnpublished(db, distribution)
        return result
    }

    static func checkPercentage(_ percentage: Int) throws {
        guard (0...100).contains(percentage) else {
            throw DepotError.invalidArgument(
                "a phase is a percentage from 0 (halted) to 100 (fully rolled out), not \(percentage)")
        }
    }

    static func timestamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
    static func date(_ timestamp: String) -> Date? { ISO8601DateFormatter().date(from: timestamp) }
}
