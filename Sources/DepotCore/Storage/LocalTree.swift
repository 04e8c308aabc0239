import AptRepository
import DebianFormat
import Foundation

/// The served tree as `public/` under the repository's root: pool files named as they are
/// read, and each distribution published as a generation switched in with one rename
/// (`Publisher`), so nothing a client may still read needs a grace period.
struct LocalTree: PublishedStorage {
    let publicDirectory: String
    let publisher: Publisher

    func location(of path: String) -> String { publicDirectory + "/" + path }

    var gcGrace: Int { 0 }

    var isShared: Bool { false }

    var redirectBase: String? { nil }

    func poolWriter() -> any PoolWriter { PoolMover(publicDirectory: publicDirectory) }

    /// One writer at a time publishes `public/` (the repository lock), so there is nothing to
    /// check a publish against.
    func publishBase(of distribution: String) throws(PublishError) -> PublishBase { .none }

    func publish(_ rendered: RenderedDistribution, over base: PublishBase) throws(PublishError) -> PublishedObjects {
        try publisher.publish(rendered)
        return PublishedObjects()
    }

    func writeArchiveKeyIfMissing(_ key: () throws -> [UInt8]) throws {
        let path = location(of: "archive-key.asc")
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let bytes = try key()
        do {
            try DurableFiles.replace(path, with: bytes)
        } catch {
            throw DepotError.file(error)
        }
    }

    func contents(of path: String) throws -> [UInt8]? {
        FileManager.default.contents(atPath: location(of: path)).map { [UInt8]($0) }
    }

    /// Reads every pool file: on a local disk, checking the bytes costs little more than
    /// checking the size.
    func checkPoolFiles(_ files: [PackageFile], deep: Bool) -> [String] {
        var problems = symbolicLinks(inPoolPathsOf: files)
        for file in files {
            let path = location(of: file.poolPath)
            do {
                let actual = try DebFile.read(path: path).checksums
                if actual != file.checksums {
                    problems.append(
                        "\(path): content differs from what was pushed (SHA256 \(actual.sha256), recorded \(file.checksums.sha256))"
                    )
                }
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }

    /// The symbolic links on the way to each pool file, the file included: push refuses to
    /// write through one, and whatever one points to is outside what Depot checks.
    private func symbolicLinks(inPoolPathsOf files: [PackageFile]) -> [String] {
        var paths = Set<String>()
        for file in files {
            var path = ""
            for component in file.poolPath.split(separator: "/") {
                path += (path.isEmpty ? "" : "/") + component
                paths.insert(path)
            }
        }
        return paths.sorted().compactMap { relative in
            let path = location(of: relative)
            var status = stat()
            guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK else { return nil }
            return "\(path): a symbolic link in the pool, where Depot keeps real files and folders; "
                + "replace it with what it points to, or remove it and push again"
        }
    }

    func poolFiles() throws -> [StoredFile] {
        let pool = location(of: "pool")
        guard let walker = FileManager.default.enumerator(atPath: pool) else { return [] }
        var files: [StoredFile] = []
        let now = Date()
        while let path = walker.nextObject() as? String {
            guard let attributes = walker.fileAttributes, attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            let modified = attributes[.modificationDate] as? Date ?? now
            files.append(
                StoredFile(
                    path: "pool/" + path, size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                    age: max(0, Int(now.timeIntervalSince(modified)))))
        }
        return files
    }

    /// A generation keeps what earlier `Release` files named, and goes with them.
    func unnamedIndexFiles() throws -> [StoredFile] { [] }

    func delete(_ paths: [String]) throws {
        for path in paths { unlink(location(of: path)) }
        removeEmptyDirectories(under: location(of: "pool"))
    }

    func unpublish(_ distribution: String) throws {
        // The link apt's path goes through, then the generations it pointed into.
        let link = location(of: "dists/\(distribution)")
        guard unlink(link) == 0 || errno == ENOENT else {
            throw DepotError.file(FileError(path: link, operation: "remove", code: errno))
        }
        let generations = publisher.generationsDirectory(distribution)
        if FileManager.default.fileExists(atPath: generations) {
            do {
                try FileManager.default.removeItem(atPath: generations)
            } catch {
                throw DepotError.file(FileError(path: generations, operation: "remove", code: EIO))
            }
        }
    }

    /// Removes directories of the pool that gc emptied, deepest first.
    private func removeEmptyDirectories(under root: String) {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        var directories: [String] = []
        while let path = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { directories.append(path) }
        }
        for directory in directories.sorted(by: { $0.count > $1.count }) { rmdir(root + "/" + directory) }
    }
}
