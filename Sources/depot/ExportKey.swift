import ArgumentParser
import DepotCore

struct ExportKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-key",
        abstract: "Print the public signing key, ASCII-armored.",
        discussion: """
            Example, on a server:
              depot export-key > /etc/apt/keyrings/depot.asc
            """)

    @OptionGroup var repository: RepositoryOptions

    func run() throws {
        print(try repository.open().exportKey(), terminator: "")
    }
}
