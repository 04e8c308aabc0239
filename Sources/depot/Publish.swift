import ArgumentParser
import DepotCore

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the indices and signatures of distributions (normally automatic).")

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "Distributions (default: every one).")
    var distributions: [String] = []

    func run() throws {
        let opened = try repository.open()
        try opened.publish(distributions)
        let names = distributions.isEmpty ? try opened.distributions().map(\.name) : distributions
        printLine("published \(names.joined(separator: ", "))")
    }
}
