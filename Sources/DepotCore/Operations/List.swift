import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// What distributions list, in promotion order, by package name and version.
    public func list(distribution: String? = nil) throws -> [Listing] {
        if let distribution { try requireDistribution(distribution) }
        let listings = try read { db in try MetadataStore.listings(db, distribution: distribution) }
        return listings.sorted { a, b in
            if a.distribution != b.distribution {
                return distributionRank(a.distribution) < distributionRank(b.distribution)
            }
            if a.file.name != b.file.name { return a.file.name < b.file.name }
            let versions = DebianVersion.compare(a.file.debianVersion, b.file.debianVersion)
            if versions != 0 { return versions < 0 }
            return a.file.architecture < b.file.architecture
        }
    }


    /// Where a distribution sorts: in promotion order, then by name the ones the store still
    /// lists that depot.conf no longer names (their listings stay, and keep their files).
    func distributionRank(_ name: String) -> (Int, String) {
        (configuration.distributions.firstIndex { $0.name == name } ?? configuration.distributions.count, name)
    }
}
