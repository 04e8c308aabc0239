import DepotTestSupport
import Foundation
import Testing

/// depot(1) keeps up with the command line: every command and every option `--help` shows
/// is in the manual page.
@Suite struct ManualTests {
    static func subcommands(of command: [String]) throws -> [String] {
        let help = try TestSupport.run(TestSupport.depotExecutable, command + ["--help"]).text
        guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[start.upperBound...].split(separator: "\n")
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && $0.dropFirst(2).first?.isLowercase == true }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0 != "help" }
    }

    @Test func everyCommandAndOptionIsInTheManualPage() throws {
        let manual = try String(contentsOfFile: TestSupport.packageRoot.path + "/man/depot.1", encoding: .utf8)
        var commands = try Self.subcommands(of: []).map { [$0] }
        commands += try commands.flatMap { command in try Self.subcommands(of: command).map { command + [$0] } }
        #expect(commands.count > 20)
        for command in commands {
            #expect(manual.contains(command.joined(separator: " ").replacingOccurrences(of: "-", with: "\\-")), "\(command)")
            let help = try TestSupport.run(TestSupport.depotExecutable, command + ["--help"]).text
            let options = Set(help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" || $0 == "]" })
                .filter { $0.hasPrefix("--") && $0.count > 2 }
                .map { String($0.prefix { $0.isLetter || $0.isNumber || $0 == "-" }) })
            for option in options where option != "--help" && option != "--version" {
                #expect(manual.contains(option.replacingOccurrences(of: "-", with: "\\-")), "depot \(command.joined(separator: " ")) \(option)")
            }
        }
    }
}
