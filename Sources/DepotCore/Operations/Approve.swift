import DebianFormat
import Foundation

extension Repository {
    /// Records that `context.user` approves the files the request's source lists as
    /// `package=version` (every architecture) for promotion into its distribution. The
    /// source defaults to the distribution that promotes to that one.
    public func approve(_ request: ApprovalRequest, context: OperationContext) throws -> [Approval] {
        let distribution = request.distribution
        let (name, version) = try request.selector()
        try requireDistribution(distribution)
        let source = try request.from ?? self.source(of: distribution)
        try requireDistribution(source)
        // Approvals are not in the served tree: nothing to publish.
        return try change("approval", context: context) { notes in
            notes.publishes = false
            return try write { db in
                let files = try MetadataStore.listings(db, distribution: source, name: name)
                    .map(\.file).filter { $0.debianVersion == version }
                    .sorted { $0.architecture < $1.architecture }
                guard !files.isEmpty else {
                    throw DepotError.notListed(
                        distribution: source, package: name, version: version.description)
                }
                let pushers = try MetadataStore.pushers(db, fileIDs: files.map(\.id))
                if let pusher = files.compactMap({ pushers[$0.id] }).first(where: { $0 == context.user }) {
                    throw DepotError.selfApproval(
                        user: pusher, package: name, version: version.description, distribution: distribution)
                }
                var approvals: [Approval] = []
                for file in files {
                    if try MetadataStore.hasApproved(db, user: context.user, fileID: file.id, into: distribution) {
                        throw DepotError.alreadyApproved(
                            user: context.user, file: "\(file.name) \(file.version) (\(file.architecture))",
                            distribution: distribution)
                    }
                    try MetadataStore.recordApproval(db, fileID: file.id, into: distribution, context: context)
                    approvals.append(
                        Approval(
                            distribution: distribution, package: file.name, version: file.version,
                            architecture: file.architecture, user: context.user, date: context.timestamp,
                            note: context.note))
                }
                let notice = WebhookEvent(
                    id: nil, event: .approve, distribution: distribution, from: source, user: context.user,
                    note: context.note, date: context.timestamp,
                    changes: files.map {
                        WebhookEvent.Change(
                            package: $0.name, architecture: $0.architecture, before: nil, after: $0.version, phase: nil)
                    })
                try MetadataStore.recordDeliveries(db, of: notice, to: self.configuration.webhooks)
                return approvals
            }
        }
    }
}
