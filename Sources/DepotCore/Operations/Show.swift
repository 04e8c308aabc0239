import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// Every version of a package the pool holds, and which distributions list each.
    public func show(package name: String) throws -> PackageReport {
        let (files, listings, approvals, events, ramps) = try read { db in
            (
                try MetadataStore.files(db, names: [name]), try MetadataStore.listings(db, distribution: nil, name: name),
                try MetadataStore.approvals(db, package: name), try MetadataStore.events(db, package: name),
                try MetadataStore.ramps(db).filter { $0.package == name }
            )
        }
        guard !files.isEmpty else { throw DepotError.unknownPackage(name) }
        let versions = files.sorted { a, b in
            let versions = DebianVersion.compare(a.debianVersion, b.debianVersion)
            return versions != 0 ? versions > 0 : a.architecture < b.architecture
        }.map { file in
            let listed = listings.filter { $0.file.id == file.id }
            return PackageReport.Version(
                file: file,
                distributions: Set(listed.map(\.distribution)).sorted { distributionRank($0) < distributionRank($1) },
                phases: Dictionary(
                    listed.compactMap { listing in listing.phase.map { (listing.distribution, $0) } },
                    uniquingKeysWith: { first, _ in first }),
                approvals: approvals.filter { $0.version == file.version && $0.architecture == file.architecture })
        }
        return PackageReport(name: name, versions: versions, events: events, ramps: ramps)
    }
}
