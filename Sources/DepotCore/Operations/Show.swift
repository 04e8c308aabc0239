import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// Every version of a package the pool holds, and which distributions list each.
    public func show(package name: String) throws -> PackageReport {
        let (files, listings, approvals, events, ramps) = try read { db in
            let files = try db.rows(
                "SELECT \(MetadataStore.fileColumns) FROM package_files f WHERE f.name = ?", [name]
            ).map { MetadataStore.file($0) }
            let events = try db.rows(
                """
                SELECT h.id, h.date, h.operation, j.distribution, j.version, j.architecture, j.listed, j.phase, h."user",
                    h.note
                FROM listing_journal j JOIN history h ON h.id = j.history_id WHERE j.package = ? ORDER BY j.sequence DESC
                """, [name]
            ).map {
                PackageReport.Event(
                    history: $0[0], date: $0[1], operation: $0[2], distribution: $0[3], version: $0[4],
                    architecture: $0[5], listed: $0[6], phase: $0[7], user: $0[8], note: $0[9])
            }
            return (
                files, try MetadataStore.listings(db, distribution: nil, name: name), try self.approvals(of: name, db),
                events, try MetadataStore.ramps(db).filter { $0.package == name }
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
