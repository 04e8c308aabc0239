import DebianFormat
import Foundation

extension Repository {
    /// Every package and architecture whose newest listed version differs between `from` and
    /// `to`, by name.
    public func diff(from: String, to: String) throws -> [Difference] {
        try requireDistribution(from)
        try requireDistribution(to)
        return try read { db in try self.differences(db, from: from, to: to) }
    }

    func differences(_ db: any StoreTransaction, from: String, to: String) throws -> [Difference] {
        let source = newest(try MetadataStore.listings(db, distribution: from))
        let target = newest(try MetadataStore.listings(db, distribution: to))
        var differences: [Difference] = []
        for key in Set(source.keys).union(target.keys) {
            let a = source[key]?.file
            let b = target[key]?.file
            let kind: Difference.Kind
            switch (a, b) {
            case (let a?, let b?):
                let order = DebianVersion.compare(a.debianVersion, b.debianVersion)
                if order == 0 { continue }
                kind = order > 0 ? .upgrade : .downgrade
            case (.some, nil): kind = .new
            case (nil, .some): kind = .onlyInTarget
            case (nil, nil): continue
            }
            differences.append(
                Difference(
                    package: key.name, architecture: key.architecture, from: a?.version, to: b?.version, kind: kind))
        }
        return differences.sorted { ($0.package, $0.architecture) < ($1.package, $1.architecture) }
    }

    struct PackageKey: Hashable {
        var name: String
        var architecture: String

        init(name: String, architecture: String) {
            self.name = name
            self.architecture = architecture
        }

        init(_ file: PackageFile) { self.init(name: file.name, architecture: file.architecture) }
    }

    /// The newest listing of each package and architecture.
    func newest(_ listings: [Listing]) -> [PackageKey: Listing] {
        var result: [PackageKey: Listing] = [:]
        for listing in listings {
            let key = PackageKey(listing.file)
            if let current = result[key], current.file.debianVersion >= listing.file.debianVersion { continue }
            result[key] = listing
        }
        return result
    }

    /// Makes the target list exactly the pool files `from` lists for the selected packages
    /// (the newest version, or the one named), for every architecture: all or none. `all`
    /// selects every package that is new or an upgrade in `from`. The target defaults to
    /// `from`'s `Promotes-To`.
    ///
    /// The promoted packages' `Depends` and `Pre-Depends` must be met in the target
    /// afterwards (`checkDependencies`); `withDependencies` promotes what they need along.
    ///
    /// `phase` lists the promoted versions phased to that percentage in the target. Its gates
    /// (`Min-Soak`, `Approvals`) apply to every file the promotion lists; a closed gate
    /// refuses it, unless `overrideGates`, which history records. A dry run reports the
    /// gates instead of refusing.
    public func promote(_ request: PromotionRequest, context: OperationContext) throws -> Promotion {
        let selectors = try request.selectors()
        let from = request.from
        let listedPhase = request.phase == 100 ? nil : request.phase
        try requireDistribution(from)
        guard let target = request.to ?? configuration.distribution(from)?.promotesTo else {
            throw DepotError.invalidArgument("\(from) promotes to no distribution: name one with --to")
        }
        try requireDistribution(target)
        guard target != from else { throw DepotError.invalidArgument("cannot promote \(from) into itself") }
        return try change("promotion", context: context) { notes in
            // A dry run does the same work in a transaction that is rolled back.
            notes.publishes = !request.dryRun
            return try write(commit: !request.dryRun) { db in
                var changes: [Change] = []
                var listed: [PackageFile] = []
                let selected = try self.selected(selectors, all: request.all, from: from, to: target, db)
                // What the target lists of these names, read in one query rather than one per file.
                var inTarget = Dictionary(
                    grouping: try MetadataStore.listings(
                        db, distribution: target, names: Array(Set(selected.map(\.file.name)))
                    ).map(\.file)
                ) { PackageKey($0) }
                let writes = MetadataStore.ListingWrites()
                for listing in selected {
                    let result = try self.addListing(
                        listing.file, to: target, component: listing.component, phase: listedPhase,
                        allowDowngrade: request.allowDowngrade,
                        fileName: "\(listing.file.name) \(listing.file.version) (\(listing.file.architecture))",
                        listed: &inTarget[PackageKey(listing.file), default: []], writes: writes)
                    if let change = result.change {
                        changes.append(change)
                        listed.append(listing.file)
                    }
                }
                try writes.flush(db)
                if request.checkDependencies || request.withDependencies {
                    changes += try self.checkDependencies(
                        of: listed, into: target, from: from, promoteAlong: request.withDependencies,
                        allowDowngrade: request.allowDowngrade, db)
                }
                var promotion = Promotion(from: from, to: target, changes: changes, dryRun: request.dryRun)
                if self.configuration.distribution(target)?.hasGates == true {
                    promotion.gates = try self.gateChecks(
                        of: try MetadataStore.filesListedByThisChange(db, in: target), from: from, into: target,
                        promoter: context.user, now: Self.date(context.timestamp) ?? Date(), db)
                }
                let closed = promotion.closedGates
                if !closed.isEmpty && !request.dryRun {
                    guard request.overrideGates else { throw DepotError.gatesClosed(closed.map(\.detail)) }
                    for gate in closed.map(\.gate.rawValue) where !promotion.overriddenGates.contains(gate) {
                        promotion.overriddenGates.append(gate)
                    }
                }
                if !changes.isEmpty {
                    try MetadataStore.stopRamps(db, distribution: target, packages: Set(changes.map(\.package)))
                    _ = try MetadataStore.recordHistory(
                        db, operation: "promote", distribution: target, from: from, context: context, changes: changes,
                        overriddenGates: promotion.overriddenGates, notifying: self.configuration.webhooks)
                    try MetadataStore.markUnpublished(db, target)
                }
                return promotion
            }
        }
    }

    /// The listings of `from` to promote.
    private func selected(
        _ selectors: [PackageSelector], all: Bool, from: String, to: String, _ db: any StoreTransaction
    ) throws
        -> [Listing]
    {
        if all {
            // What `diff` calls new or an upgrade.
            let target = newest(try MetadataStore.listings(db, distribution: to))
            return newest(try MetadataStore.listings(db, distribution: from)).values
                .filter { listing in
                    target[PackageKey(listing.file)].map { listing.file.debianVersion > $0.file.debianVersion } ?? true
                }
                .sorted { ($0.file.name, $0.file.architecture) < ($1.file.name, $1.file.architecture) }
        }
        var chosen: [Listing] = []
        for selector in selectors {
            let listed = try MetadataStore.listings(db, distribution: from, name: selector.name)
            let matching =
                selector.version == nil ? Array(newest(listed).values) : listed.filter { selector.matches($0.file) }
            guard !matching.isEmpty else {
                throw DepotError.notListed(
                    distribution: from, package: selector.name, version: selector.version?.description)
            }
            chosen += matching.sorted { $0.file.architecture < $1.file.architecture }
        }
        return chosen
    }
}
