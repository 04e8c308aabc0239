import AptRepository
import DebianFormat
import Foundation
import Synchronization

extension Repository {
    struct ListingResult {
        var change: Change?
        var unlisted: [String]
    }

    /// Lists `file` in `distribution`, keeping at most `Keep-Versions` versions of its name and
    /// architecture there. A version lower than the newest listed one needs `allowDowngrade`,
    /// which unlists the newer ones.
    func addListing(
        _ file: PackageFile, to distribution: String, component: String, allowDowngrade: Bool, fileName: String,
        _ db: any StoreTransaction
    ) throws -> ListingResult {
        var listed = try MetadataStore.listings(db, distribution: distribution, name: file.name)
            .map(\.file).filter { $0.architecture == file.architecture }
        let writes = MetadataStore.ListingWrites()
        let result = try addListing(
            file, to: distribution, component: component, allowDowngrade: allowDowngrade, fileName: fileName,
            listed: &listed, writes: writes)
        try writes.flush(db)
        return result
    }

    /// `addListing`, given the files of the name and architecture listed in `distribution`,
    /// which it updates, and keeping the rows to write in `writes`: for callers listing many
    /// files, who read those in one query and write the rows together.
    func addListing(
        _ file: PackageFile, to distribution: String, component: String, phase: Int? = nil, allowDowngrade: Bool,
        fileName: String, listed: inout [PackageFile], writes: MetadataStore.ListingWrites
    ) throws -> ListingResult {
        if listed.contains(where: { $0.id == file.id }) { return ListingResult(change: nil, unlisted: []) }
        let newest = listed.max { $0.debianVersion < $1.debianVersion }
        var unlisted: [PackageFile] = []
        if let newest, newest.debianVersion > file.debianVersion {
            guard allowDowngrade else {
                throw DepotError.downgrade(
                    file: fileName, package: file.name, version: file.version, newest: newest.version,
                    distribution: distribution)
            }
            unlisted += listed.filter { $0.debianVersion > file.debianVersion }
        }
        let keep = configuration.distribution(distribution)?.keepVersions ?? 1
        let remaining = listed.filter { candidate in !unlisted.contains { $0.id == candidate.id } }
            .sorted { $0.debianVersion > $1.debianVersion }
        unlisted += remaining.dropFirst(max(0, keep - 1))
        for old in unlisted {
            writes.unlist(fileID: old.id, from: distribution)
        }
        writes.list(fileID: file.id, in: distribution, component: component, phase: phase)
        listed = listed.filter { candidate in !unlisted.contains { $0.id == candidate.id } } + [file]
        return ListingResult(
            change: Change(
                package: file.name, architecture: file.architecture, before: newest?.version, after: file.version,
                afterPhase: phase),
            unlisted: unlisted.map(\.version))
    }
}
