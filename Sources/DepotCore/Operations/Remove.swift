import DebianFormat

extension Repository {
    /// Unlists packages (every architecture, or one version) from a distribution. The files
    /// stay in the pool for rollback.
    public func remove(_ request: RemovalRequest, context: OperationContext) throws -> [Change] {
        let (distribution, selectors) = (request.distribution, try request.selectors())
        return try change("removal", in: distribution, context: context) { _ in
            try write { db in
                var changes: [Change] = []
                for selector in selectors {
                    let listed = try MetadataStore.listings(db, distribution: distribution, name: selector.name)
                    let matching = listed.filter { selector.matches($0.file) }
                    guard !matching.isEmpty else {
                        throw DepotError.notListed(
                            distribution: distribution, package: selector.name, version: selector.version?.description)
                    }
                    for listing in matching {
                        try MetadataStore.unlist(db, fileID: listing.file.id, from: distribution)
                        let remaining = listed.filter {
                            $0.file.architecture == listing.file.architecture && !matching.contains($0)
                        }.map(\.file).max { $0.debianVersion < $1.debianVersion }
                        changes.append(
                            Change(
                                package: listing.file.name, architecture: listing.file.architecture,
                                before: listing.file.version, after: remaining?.version))
                    }
                }
                _ = try MetadataStore.recordHistory(
                    db, operation: "remove", distribution: distribution, context: context, changes: changes,
                    notifying: self.configuration.webhooks)
                try MetadataStore.markUnpublished(db, distribution)
                return changes
            }
        }
    }
}
