import DebianFormat
import Foundation

extension Repository {
    /// One gate of a promotion for one package version: whether it is open, and if not, when
    /// or how it opens.
    public struct GateCheck: Sendable, Hashable, Codable {
        public enum Gate: String, Sendable, Codable {
            /// The promotion comes from a distribution whose `Promotes-To` is the gated one.
            case promotesTo = "Promotes-To"
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
    /// shortest soak and the fewest approvals decide).
    ///
    /// Gates hold on every path: a source whose `Promotes-To` is not `target` is a closed
    /// gate of its own, and time in it never counts as soak.
    func gateChecks(
        of files: [PackageFile], from source: String, into target: String, promoter: String, now: Date,
        _ db: any StoreTransaction
    ) throws -> [GateCheck] {
        guard let gates = configuration.distribution(target), !files.isEmpty else { return [] }
        let versions = Dictionary(grouping: files) { "\($0.name) \($0.version)" }
            .sorted { $0.key < $1.key }.map(\.value)
        var checks: [GateCheck] = []
        let onPath = configuration.distribution(source)?.promotesTo == target
        if !onPath {
            let sources = configuration.distributions.filter { $0.promotesTo == target }.map(\.name)
            let way = sources.isEmpty ? "no distribution promotes to \(target)" : "promote it into \(sources.joined(separator: " or ")) first"
            for version in versions {
                checks.append(
                    GateCheck(
                        package: version[0].name, version: version[0].version, gate: .promotesTo, open: false,
                        detail: "\(target) is gated and takes promotions only from a distribution whose Promotes-To "
                            + "is \(target), not from \(source) (Promotes-To); \(way)"))
            }
        }
        if let soak = gates.minSoak {
            let soaked = onPath ? try MetadataStore.soak(db, distribution: source, files: files, now: now) : [:]
            for version in versions {
                let file = version[0]
                let shortest = version.map { soaked[$0.id] ?? .none }.min { $0.seconds < $1.seconds } ?? .none
                let open = shortest.seconds >= Double(soak)
                let opens = now.addingTimeInterval(Double(soak) - shortest.seconds)
                var detail =
                    "\(file.name) \(file.version) has been in \(source) for \(Self.describe(seconds: Int(shortest.seconds)))"
                    + "\(onPath ? " at a phase above 0 %" : ""); \(target) requires \(Self.describe(seconds: soak)) (Min-Soak)"
                if !open {
                    detail +=
                        !onPath
                        ? "; time in \(source) does not count"
                        : shortest.counting
                            ? "; it can be promoted after \(Self.timestamp(opens))"
                            : "; it is halted at 0 % (or not listed) there, which does not count: widen its rollout in \(source)"
                }
                checks.append(
                    GateCheck(
                        package: file.name, version: file.version, gate: .minSoak, open: open, detail: detail,
                        opensAt: open || !onPath || !shortest.counting ? nil : Self.timestamp(opens)))
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
    /// How long a file has soaked in a distribution: the seconds it was listed there at a
    /// phase above 0 %, and whether it still is (so the time goes on).
    struct Soak {
        var seconds: Double
        var counting: Bool
        static let none = Soak(seconds: 0, counting: false)
    }

    /// How long each file has soaked in `distribution` up to `now`, from the journal: each
    /// history entry's net effect opens or closes a span (a change that relists a file in the
    /// same entry at another phase above 0 % goes on with the span; halting at 0 % closes it).
    /// A file listed before the journal was kept counts from when it was pushed.
    static func soak(_ db: any StoreTransaction, distribution: String, files: [PackageFile], now: Date) throws
        -> [Int64: Soak]
    {
        let ids = try json(files.map(\.id))
        let rows = try db.rows(
            """
            SELECT j.file_id, j.history_id, j.listed, j.phase, h.date FROM listing_journal j
            JOIN history h ON h.id = j.history_id
            WHERE j.distribution = ? AND j.file_id IN \(db.dialect.jsonArrayIntegers) ORDER BY j.sequence
            """, [distribution, ids])
        var soaks: [Int64: Soak] = [:]
        for (fileID, fileRows) in Dictionary(grouping: rows, by: { $0[0] as Int64 }) {
            var total = 0.0
            var countingSince: Date?
            var listed = false
            var phase: Int?
            var position = fileRows.startIndex
            while position < fileRows.endIndex {
                let entry: Int64 = fileRows[position][1]
                let date = Repository.date(fileRows[position][4]) ?? now
                while position < fileRows.endIndex && fileRows[position][1] as Int64 == entry {
                    listed = fileRows[position][2]
                    phase = fileRows[position][3]
                    position += 1
                }
                let counting = listed && phase != 0
                if counting && countingSince == nil {
                    countingSince = date
                } else if !counting, let since = countingSince {
                    total += max(0, date.timeIntervalSince(since))
                    countingSince = nil
                }
            }
            if let since = countingSince { total += max(0, now.timeIntervalSince(since)) }
            soaks[fileID] = Soak(seconds: total, counting: countingSince != nil)
        }
        let unjournaled = files.filter { soaks[$0.id] == nil }.map(\.id)
        if !unjournaled.isEmpty {
            let list = try json(unjournaled)
            for row in try db.rows(
                """
                SELECT f.id, f.added_at, l.phase FROM package_files f JOIN listings l ON l.file_id = f.id
                WHERE l.distribution = ? AND f.id IN \(db.dialect.jsonArrayIntegers)
                """, [distribution, list])
            {
                let phase: Int? = row[2]
                guard phase != 0, let added = Repository.date(row[1]) else { continue }
                soaks[row[0]] = Soak(seconds: max(0, now.timeIntervalSince(added)), counting: true)
            }
        }
        return soaks
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
