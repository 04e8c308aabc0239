import ArgumentParser

@main
struct Depot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depot",
        abstract: "A Debian package repository manager with distribution promotion.",
        version: "0.1.0")
}
