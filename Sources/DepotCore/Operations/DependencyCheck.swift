import DebianFormat

/// What a distribution offers to satisfy `Depends` and `Pre-Depends`: its listed packages and
/// the virtual packages they provide, looked up by name in the store as requirements ask for
/// them (a promotion of one package into a distribution of thousands asks for a few).
/// Reads the transaction it is given, so it sees what the promotion listed.
final class Offerings {
    struct Offer {
        /// The package's version, or the version a `Provides` gives; nil for an unversioned
        /// `Provides`, which satisfies only relations without a version.
        var version: DebianVersion?
        var architecture: String
        var provider: PackageFile
        var component: String
    }

    private let db: any StoreTransaction
    private let distribution: String
    private var cache: [String: [Offer]] = [:]

    init(_ db: any StoreTransaction, distribution: String) {
        self.db = db
        self.distribution = distribution
    }

    /// Every offer of a name: packages of that name, and packages that provide it.
    func offers(named name: String) throws -> [Offer] {
        if let cached = cache[name] { return cached }
        var offers = try MetadataStore.listings(db, distribution: distribution, name: name).map {
            Offer(
                version: $0.file.debianVersion, architecture: $0.file.architecture, provider: $0.file,
                component: $0.component)
        }
        for (file, component, version) in try MetadataStore.providers(db, of: name, in: distribution) {
            offers.append(
                Offer(
                    version: version.flatMap { try? DebianVersion($0) }, architecture: file.architecture,
                    provider: file, component: component))
        }
        cache[name] = offers
        return offers
    }

    /// Forgets what was looked up, after the distribution's listings changed.
    func invalidate() { cache.removeAll() }

    /// The offers that meet `relationship` for a package of `architecture`, newest first.
    func offers(for relationship: Relationship, architecture: String) throws -> [Offer] {
        try offers(named: relationship.package).filter { offer in
            let architectureFits =
                offer.architecture == Architecture.all || relationship.architectureQualifier == "any"
                || offer.architecture
                    == (relationship.architectureQualifier.flatMap { $0 == "native" ? nil : $0 }
                        ?? architecture)
            guard architectureFits else { return false }
            guard relationship.version != nil else { return true }
            return offer.version.map { relationship.isSatisfied(by: $0) } ?? false
        }
        .sorted { a, b in
            guard let left = a.version, let right = b.version else { return a.version != nil }
            return left > right
        }
    }

    func satisfies(_ alternatives: [Relationship], architecture: String) throws -> Bool {
        try alternatives.contains { !(try offers(for: $0, architecture: architecture).isEmpty) }
    }

    func names(_ name: String) throws -> Bool { !(try offers(named: name).isEmpty) }

}

extension Repository {
    /// Checks that every newly listed file's `Depends` and `Pre-Depends` are met by what
    /// `target` lists now (inside the promotion's transaction). With `promoteAlong`, a
    /// requirement `source` can meet is met by promoting the newest such package too, and
    /// its own requirements are checked in turn. Returns the changes of promoting those along.
    ///
    /// A requirement naming only packages this repository has never held is left to the
    /// system's other apt sources (libc6 comes from Debian, not from here): only relations
    /// among the repository's own packages are checked.
    func checkDependencies(
        of promoted: [PackageFile], into target: String, from source: String, promoteAlong: Bool,
        allowDowngrade: Bool, _ db: any StoreTransaction
    ) throws -> [Change] {
        let targetOfferings = Offerings(db, distribution: target)
        let sourceOfferings = promoteAlong ? Offerings(db, distribution: source) : nil
        var queue = promoted
        var along: [Change] = []
        var unmet: [UnmetDependency] = []
        // Many packages share the same Depends, and the same few libraries: parse and look
        // each up once.
        var parsed: [String: RelationshipList] = [:]
        var known: [String: Bool] = [:]
        let controls = try self.controls(of: promoted, db)
        while let file = queue.popLast() {
            try forEachUnmetRequirement(
                of: file, control: try controls[file.id] ?? control(of: file, db), in: targetOfferings,
                alsoKnownFrom: sourceOfferings,
                parsed: &parsed, known: &known, db
            ) { alternatives, architecture in
                var candidate: Offerings.Offer?
                for relationship in alternatives where candidate == nil {
                    candidate = try sourceOfferings?.offers(for: relationship, architecture: architecture).first
                }
                guard let candidate else {
                    unmet.append(UnmetDependency(file, alternatives, architecture: architecture, in: target))
                    return
                }
                let provider = candidate.provider
                let result = try addListing(
                    provider, to: target, component: candidate.component, allowDowngrade: allowDowngrade,
                    fileName: "\(provider.name) \(provider.version) (\(provider.architecture))", db)
                targetOfferings.invalidate()
                if let change = result.change { along.append(change) }
                queue.append(provider)
            }
        }
        guard unmet.isEmpty else {
            throw DepotError.unmetDependencies(unmet, source: source, canPromoteAlong: !promoteAlong)
        }
        return along
    }

    /// The `Depends` and `Pre-Depends` requirements that packages listed in `distribution` have
    /// and it does not meet now: of the packages that are among `names` or mention one of them,
    /// or a name they provide, in their control paragraph (after a remove or a rollback of
    /// those), or of every package listed (nil).
    public func unmetDependencies(in distribution: String, among names: Set<String>? = nil) throws
        -> [UnmetDependency]
    {
        try read { db in
            // The names, and those they provide: a package is checked when its control text
            // mentions one (its own name is in it too), found by the store, not parsed.
            let mentioned = try names.map { names in names.union(try MetadataStore.providedNames(db, by: names)) }
            let listed = try MetadataStore.listedControls(db, in: distribution, mentioning: mentioned)
            let offerings = Offerings(db, distribution: distribution)
            var parsed: [String: RelationshipList] = [:]
            var known: [String: Bool] = [:]
            var unmet: [UnmetDependency] = []
            for (file, control) in listed {
                try forEachUnmetRequirement(
                    of: file, control: control, in: offerings, alsoKnownFrom: nil, parsed: &parsed, known: &known, db
                ) { alternatives, architecture in
                    unmet.append(UnmetDependency(file, alternatives, architecture: architecture, in: distribution))
                }
            }
            return unmet.sorted { ($0.package, $0.architecture) < ($1.package, $1.architecture) }
        }
    }

    /// Calls `unmet` for each `Depends` and `Pre-Depends` requirement of `file` (`control` is
    /// its control paragraph), on each architecture it installs on, that `offerings` does not
    /// meet when it is asked, and that names a package this repository holds.
    private func forEachUnmetRequirement(
        of file: PackageFile, control: String, in offerings: Offerings, alsoKnownFrom other: Offerings?,
        parsed: inout [String: RelationshipList], known: inout [String: Bool], _ db: any StoreTransaction,
        _ unmet: ([Relationship], String) throws -> Void
    ) throws {
        guard let text = Self.fieldText(control, fields: ["Pre-Depends", "Depends"]) else { return }
        guard let relations = parsed[text] ?? (try? RelationshipList(parsing: text)) else { return }
        parsed[text] = relations
        let architectures = file.architecture == Architecture.all ? configuration.architectures : [file.architecture]
        for alternatives in relations.requirements {
            for architecture in architectures {
                if try offerings.satisfies(alternatives, architecture: architecture) { continue }
                guard try isKnown(alternatives, offerings, other, cache: &known, db) else { continue }
                try unmet(alternatives, architecture)
            }
        }
    }

    /// The values of these relationship fields of a control paragraph, joined; nil when it has
    /// none of them.
    private static func fieldText(_ control: String, fields: [String]) -> String? {
        guard let paragraph = try? Deb822Document(parsing: control).paragraphs.first else { return nil }
        let values = fields.compactMap { paragraph[$0] }
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    private func control(of file: PackageFile, _ db: any StoreTransaction) throws -> String {
        try MetadataStore.controls(db, of: [file.id])[file.id] ?? ""
    }

    /// The control paragraphs of these files, read in one query rather than one per file.
    private func controls(of files: [PackageFile], _ db: any StoreTransaction) throws -> [Int64: String] {
        guard files.count > 1 else { return [:] }
        return try MetadataStore.controls(db, of: files.map(\.id))
    }

    /// Whether any alternative names a package (or a provided name) this repository holds.
    private func isKnown(
        _ alternatives: [Relationship], _ target: Offerings, _ source: Offerings?, cache: inout [String: Bool],
        _ db: any StoreTransaction
    ) throws -> Bool {
        for relationship in alternatives {
            let name = relationship.package
            if try target.names(name) || source?.names(name) == true { return true }
            let held = try cache[name] ?? MetadataStore.holdsName(db, name)
            cache[name] = held
            if held { return true }
        }
        return false
    }
}
