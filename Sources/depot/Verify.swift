import ArgumentParser
import DepotCore

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pool files, indices and signatures; exit non-zero on any problem.")

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "With Storage: s3://..., download every pool object and check its checksums, not only its size.")
    var deep = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = try repository.open().verify(deep: deep)
        if json {
            try printJSON(report)
        } else {
            for note in report.notes { printLine("note: \(note)") }
            printLine("checked \(report.poolFilesChecked) pool files and \(report.indicesChecked) index files")
        }
        if !report.passed { throw DepotError.verificationFailed(report.problems) }
        if !json { printLine("ok") }
    }
}
