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
            printLine("\(file.name) \(file.version) (\(file.architecture))")
            printLine(
                "  Listed in: \(version.distributions.isEmpty ? "(none)" : version.distributions.joined(separator: ", "))"
            )
            printLine("  Filename: \(file.poolPath)")
            printLine("  Size: \(file.checksums.size)")
            printLine("  MD5sum: \(file.checksums.md5)")
            printLine("  SHA1: \(file.checksums.sha1)")
            printLine("  SHA256: \(file.checksums.sha256)")
            printLine("  SHA512: \(file.checksums.sha512)")
        }
    }
}
