import DebianFormat
import Foundation

extension Repository {
    /// One gate of a promotion for one package version: whether it is open, and if not, when
    /// or how it opens.
    public struct GateCheck: Sendable, Hashable, Codable {
        public enum Gate: String, Sendable, Codable {
            case minSoak = "Min-Soak"
            case approvals = "Approvals"
        }
        public var package: String
        public var version: String
        public var gate: Gate
        public var open: Bool
        /// One line: where the version stands and what the gate asks.
        public var detail: String
        /// When a closed `Min-Soak` gate opens (ISO 8601, UTC).
        public var opensAt: String?
        /// The users whose approvals count.
        public var approvedBy: [String]?
    }

    /// A recorded approval of a file for promotion into a distribution.
    public struct Approval: Sendable, Hashable, Codable {
        public var distribution: String
        public var package: String
        public var version: String
        public var architecture: String
        public var user: String
        public var date: String
        public var note: String?
    }

    /// Records that `context.user` approves the files `source` lists as `package=version`
    /// (every architecture) for promotion into `distribution`. `source` defaults to the
    /// distribution that promotes to `distribution`.
    public func approve(
        _ selector: PackageSelector, into distribution: String, from source: String? = nil, context: OperationContext
    ) throws -> [Approval] {
        try requireDistribution(distribution)
        guard let version = selector.version else {
            throw DepotError.invalidArgument(
                "name the version to approve: \(selector.name)=VERSION (an approval is of one exact file)")
        }
        let source = try source ?? self.source(of: distribution)
        try requireDistribution(source)
        return try withLock(cancelled: context.isCancelled) {
            try write { db in
                let files = try MetadataStore.listings(db, distribution: source, name: selector.name)
                    .map(\.file).filter { $0.debianVersion == version }
                    .sorted { $0.architecture < $1.architecture }
                guard !files.isEmpty else {
                    throw DepotError.notListed(
                        distribution: source, package: selector.name, version: version.description)
                }
                let pushers = try MetadataStore.pushers(db, fileIDs: files.map(\.id))
                if let pusher = files.compactMap({ pushers[$0.id] }).first(where: { $0 == context.user }) {
                    throw DepotError.invalidArgument(
                        "\(pusher) pushed \(selector.name) \(version) and cannot approve it (four eyes): "
                            + "another user must approve it for \(distribution)")
                }
                var approvals: [Approval] = []
                for file in files {
                    if try db.exists(
                        "SELECT 1 FROM approvals WHERE distribution = ? AND file_id = ? AND \"user\" = ?",
                        [distribution, file.id, context.user])
                    {
                        throw DepotError.invalidArgument(
                            "\(context.user) has already approved \(file.name) \(file.version) (\(file.architecture)) "
                                + "for \(distribution)")
                    }
                    try db.execute(
                        "INSERT INTO approvals (distribution, file_id, \"user\", date, note) VALUES (?, ?, ?, ?, ?)",
                        [distribution, file.id, context.user, context.timestamp, context.note])
                    approvals.append(
                        Approval(
                            distribution: distribution, package: file.name, version: file.version,
                            architecture: file.architecture, user: context.user, date: context.timestamp,
                            note: context.note))
                }
                return approvals
            }
        }
    }

    /// The distribution whose files are promoted into `distribution`: the one that names it
    /// in `Promotes-To`.
    func source(of distribution: String) throws -> String {
        let sources = configuration.distributions.filter { $0.promotesTo == distribution }.map(\.name)
        guard sources.count == 1 else {
            throw DepotError.invalidArgument(
                sources.isEmpty
                    ? "no distribution promotes to \(distribution): name the source with --from"
                    : "\(sources.joined(separator: " and ")) both promote to \(distribution): name the source with --from")
        }
        return sources[0]
    }

    /// The gates of `target` for promoting `files` from `source` by `promoter`, one check per
    /// gate and package version (a version's architectures pass or fail together: the
    /// earliest listing and the fewest approvals decide).
    func gateChecks(
        of files: [PackageFile], from source: String, into target: String, promoter: String, now: Date,
        _ db: any StoreTransaction
    ) throws -> [GateCheck] {
        guard let gates = configuration.distribution(target), !files.isEmpty else { return [] }
        let versions = Dictionary(grouping: files) { "\($0.name) \($0.version)" }
            .sorted { $0.key < $1.key }.map(\.value)
        var checks: [GateCheck] = []
        if let soak = gates.minSoak {
            let since = try MetadataStore.listedSince(db, distribution: source, files: files)
            for version in versions {
                let file = version[0]
                let entered = version.map { since[$0.id] ?? now }.max() ?? now
                let opens = entered.addingTimeInterval(Double(soak))
                let open = opens <= now
                let held = Self.describe(seconds: Int(now.timeIntervalSince(entered)))
                checks.append(
                    GateCheck(
                        package: file.name, version: file.version, gate: .minSoak, open: open,
                        detail: "\(file.name) \(file.version) has been in \(source) for \(held); "
                            + "\(target) requires \(Self.describe(seconds: soak)) (Min-Soak)"
                            + (open ? "" : "; it can be promoted after \(Self.timestamp(opens))"),
                        opensAt: open ? nil : Self.timestamp(opens)))
            }
        }
        if gates.approvals > 0 {
            let ids = files.map(\.id)
            let pushers = try MetadataStore.pushers(db, fileIDs: ids)
            let approvers = try MetadataStore.approvers(db, distribution: target, fileIDs: ids)
            for version in versions {
                let file = version[0]
                let excluded = Set(version.compactMap { pushers[$0.id] } + [promoter])
                // An approver counts when they approved every architecture of the version.
                var counted = Set(approvers[file.id] ?? []).subtracting(excluded)
                for other in version.dropFirst() { counted.formIntersection(approvers[other.id] ?? []) }
                let open = counted.count >= gates.approvals
                var detail =
                    "\(file.name) \(file.version) has \(counted.count) of the \(gates.approvals) "
                    + "approval\(gates.approvals == 1 ? "" : "s") \(target) requires (Approvals)"
                if !open {
                    let pusher = version.compactMap { pushers[$0.id] }.first.map { "its pusher \($0) and " } ?? ""
                    detail +=
                        "; approve it with 'depot approve \(target) \(file.name)=\(file.version)' as a user "
                        + "other than \(pusher)its promoter \(promoter)"
                }
                checks.append(
                    GateCheck(
                        package: file.name, version: file.version, gate: .approvals, open: open, detail: detail,
                        approvedBy: counted.sorted()))
            }
        }
        return checks
    }

    /// The approvals of a package's files, for `show`.
    func approvals(of package: String, _ db: any StoreTransaction) throws -> [Approval] {
        try db.rows(
            """
            SELECT a.distribution, f.name, f.version, f.architecture, a."user", a.date, a.note
            FROM approvals a JOIN package_files f ON f.id = a.file_id WHERE f.name = ? ORDER BY a.date, a."user"
            """, [package]
        ).map {
            Approval(
                distribution: $0[0], package: $0[1], version: $0[2], architecture: $0[3], user: $0[4], date: $0[5],
                note: $0[6])
        }
    }

    /// A span as the gates say it: `2h10m`, `24h`, `45s`.
    public static func describe(seconds: Int) -> String {
        let total = max(0, seconds)
        let (hours, minutes) = (total / 3600, total % 3600 / 60)
        if hours == 0 && minutes == 0 { return "\(total)s" }
        if minutes == 0 { return "\(hours)h" }
        return hours == 0 ? "\(minutes)m" : "\(hours)h\(minutes)m"
    }
}

extension MetadataStore {
    /// When each file was last listed in `distribution`, from the history entry that listed
    /// it there: a change that relists a file in the same entry (a new phase) keeps the time.
    /// A file listed before the journal was kept counts from when it was pushed.
    static func listedSince(_ db: any StoreTransaction, distribution: String, files: [PackageFile]) throws
        -> [Int64: Date]
    {
        let ids = try json(files.map(\.id))
        let rows = try db.rows(
            """
            SELECT j.file_id, j.history_id, j.listed, h.date FROM listing_journal j JOIN history h ON h.id = j.history_id
            WHERE j.distribution = ? AND j.file_id IN \(db.dialect.jsonArrayIntegers) ORDER BY j.sequence
            """, [distribution, ids])
        var since: [Int64: Date] = [:]
        var journaled: Set<Int64> = []
        for (fileID, fileRows) in Dictionary(grouping: rows, by: { $0[0] as Int64 }) {
            journaled.insert(fileID)
            // Each entry's net effect: listed where it was not, or unlisted.
            var listed = false
            var position = fileRows.startIndex
            while position < fileRows.endIndex {
                let entry: Int64 = fileRows[position][1]
                let wasListed = listed
                while position < fileRows.endIndex && fileRows[position][1] as Int64 == entry {
                    listed = fileRows[position][2]
                    position += 1
                }
                if listed && !wasListed {
                    since[fileID] = Repository.date(fileRows[position - 1][3])
                } else if !listed {
                    since[fileID] = nil
                }
            }
        }
        let unjournaled = files.filter { !journaled.contains($0.id) }.map(\.id)
        if !unjournaled.isEmpty {
            let list = try json(unjournaled)
            for row in try db.rows(
                "SELECT id, added_at FROM package_files WHERE id IN \(db.dialect.jsonArrayIntegers)", [list])
            {
                since[row[0]] = Repository.date(row[1])
            }
        }
        return since
    }

    /// The files the change under way (its journal rows not yet given to a history entry)
    /// listed in `distribution`.
    static func filesListedByThisChange(_ db: any StoreTransaction, in distribution: String) throws -> [PackageFile] {
        try db.rows(
            """
            SELECT \(fileColumns) FROM package_files f WHERE f.id IN (
                SELECT file_id FROM listing_journal WHERE history_id IS NULL AND listed = 1 AND distribution = ?)
            ORDER BY f.name, f.architecture
            """, [distribution]
        ).map { file($0) }
    }

    /// The user of the push that first listed each file.
    static func pushers(_ db: any StoreTransaction, fileIDs: [Int64]) throws -> [Int64: String] {
        let ids = try json(fileIDs)
        var pushers: [Int64: String] = [:]
        for row in try db.rows(
            """
            SELECT j.file_id, h."user" FROM listing_journal j JOIN history h ON h.id = j.history_id
            WHERE j.file_id IN \(db.dialect.jsonArrayIntegers) AND j.listed = 1 AND h.operation = 'push'
            ORDER BY j.sequence DESC
            """, [ids])
        {
            pushers[row[0]] = row[1]
        }
        return pushers
    }

    /// Who approved each file for `distribution`.
    static func approvers(_ db: any StoreTransaction, distribution: String, fileIDs: [Int64]) throws
        -> [Int64: [String]]
    {
        let ids = try json(fileIDs)
        return Dictionary(
            grouping: try db.rows(
                """
                SELECT file_id, "user" FROM approvals
                WHERE distribution = ? AND file_id IN \(db.dialect.jsonArrayIntegers)
                """, [distribution, ids]),
            by: { $0[0] as Int64 }
        ).mapValues { $0.map { $0[1] as String } }
    }
}
