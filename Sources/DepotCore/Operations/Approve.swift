import DebianFormat
import Foundation

extension Repository {
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
        // Approvals are not in the served tree: nothing to publish.
        return try change("approval", context: context) { notes in
            notes.publishes = false
            return try write { db in
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
}
