import ArgumentParser
import DepotCore

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every version of a package the pool holds: checksums, where each is listed, phases, approvals.")

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
            let listedIn = version.distributions.map { name in
                version.phases[name].map { "\(name) (phased \($0)%)" } ?? name
            }
            printLine("  Listed in: \(listedIn.isEmpty ? "(none)" : listedIn.joined(separator: ", "))")
            for approval in version.approvals {
                printLine(
                    "  Approved for \(approval.distribution) by \(approval.user) at \(approval.date)"
                        + (approval.note.map { ": \($0)" } ?? ""))
            }
            printLine("  Filename: \(file.poolPath)")
            printLine("  Size: \(file.checksums.size)")
            printLine("  MD5sum: \(file.checksums.md5)")
            printLine("  SHA1: \(file.checksums.sha1)")
            printLine("  SHA256: \(file.checksums.sha256)")
            printLine("  SHA512: \(file.checksums.sha512)")
        }
        for ramp in report.ramps {
            printLine(
                "Ramp in \(ramp.distribution): \(ramp.package) \(ramp.version) to "
                    + ramp.steps.map { "\($0)%" }.joined(separator: ", ") + ", next at \(ramp.next)")
        }
    }
}
