import ArgumentParser
import DepotCore

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every version of a package the pool holds, with checksums and where each is listed.")

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The package name.")
    var package: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let report = try repository.open().show(package: package)
        if json { return try printJSON(report) }
        for version in report.versions {
            let file = version.file
            print("\(file.name) \(file.version) (\(file.architecture))")
            print(
                "  Listed in: \(version.distributions.isEmpty ? "(none)" : version.distributions.joined(separator: ", "))"
            )
            print("  Filename: \(file.poolPath)")
            print("  Size: \(file.checksums.size)")
            print("  MD5sum: \(file.checksums.md5)")
            print("  SHA1: \(file.checksums.sha1)")
            print("  SHA256: \(file.checksums.sha256)")
            print("  SHA512: \(file.checksums.sha512)")
        }
    }
}
