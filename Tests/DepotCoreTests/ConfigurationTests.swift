import DepotCore
import Testing

@Suite struct ConfigurationTests {
    static let valid = """
        # Example Corp's packages
        Origin: Example Corp
        Label: Example
        Architectures: amd64 arm64
        Components: main
        Sign-With: 5C7A1B
        Retain-History: 50

        Distribution: development
        Promotes-To: staging
        Keep-Versions: 3
        Retain-History: 20

        Distribution: staging
        Promotes-To: production
        Valid-For: 7d

        Distribution: production
        Description: what ships

        """

    @Test func readsTheRepositoryAndItsDistributionsInPromotionOrder() throws {
        let configuration = try Configuration(parsing: Self.valid)
        #expect(configuration.origin == "Example Corp" && configuration.label == "Example")
        #expect(configuration.architectures == ["amd64", "arm64"] && configuration.components == ["main"])
        #expect(configuration.signWith == "5C7A1B")
        #expect(configuration.distributions.map(\.name) == ["development", "staging", "production"])
        #expect(configuration.distribution("development")?.keepVersions == 3)
        #expect(configuration.distribution("staging")?.keepVersions == 1)
        #expect(configuration.distribution("staging")?.validFor == 7 * 86400)
        #expect(configuration.distribution("staging")?.promotesTo == "production")
        #expect(configuration.distribution("production")?.description == "what ships")
        #expect(configuration.distributions.map(\.retainHistory) == [20, 50, 50])
        #expect(try Configuration(parsing: "Architectures: amd64\n\nDistribution: a\n").retainHistory == 500)
        #expect(try Configuration(parsing: configuration.rendered()) == configuration)
    }

    @Test(arguments: [
        ("Origin: X\nArchitectures: amd64\nColour: blue\n\nDistribution: a\n", 3, "unknown field 'Colour'"),
        ("Origin: X\nArchitectures: amd64\n\nDistribution: a\nPromotes-To: b\nKeep: 2\n", 6, "unknown field 'Keep'"),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\n\nDistribution: a\n", 6,
            "distribution 'a' is defined twice"
        ),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\nPromotes-To: nowhere\n", 5,
            "Promotes-To names 'nowhere'"
        ),
        ("Origin: X\nArchitectures:\n\nDistribution: a\n", 2, "'Architectures' must list at least one value"),
        ("Origin: X\n\nDistribution: a\n", 1, "'Architectures' must list at least one value"),
        ("Origin: X\nArchitectures: amd64\n\nDistribution: ../etc\n", 4, "invalid distribution name '../etc'"),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\nKeep-Versions: 0\n", 5,
            "Keep-Versions must be a whole number"
        ),
        (
            "Origin: X\nArchitectures: amd64\nRetain-History: all\n\nDistribution: a\n", 3,
            "Retain-History must be a whole number"
        ),
        ("Origin: X\nArchitectures: AMD64\n\nDistribution: a\n", 2, "invalid architecture 'AMD64'"),
        ("Origin: X\nArchitectures: amd64\n", 2, "no distributions"),
        ("Origin: X\nArchitectures: amd64\n\nPromotes-To: b\n", 4, "needs a 'Distribution' field"),
        ("Origin: X\nOrigin: Y\n", 2, "appears twice"),
        ("Origin X\n", 1, "without a colon"),
    ])
    func reportsEveryMistakeWithItsLine(text: String, line: Int, problem: String) {
        do {
            _ = try Configuration(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.problem.contains(problem), "\(error)")
        }
    }
}
