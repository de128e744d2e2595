import { join } from 'node:path';
import type { Recipe } from '../api/index.ts';
import {
  GRADLE_WRAPPER_PROPERTIES,
  MAVEN_WRAPPER_PROPERTIES,
  mavenChoices,
  mavenVersionFromProbe,
  readPom,
  wrapperVersion,
} from './maven.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER } from './types.ts';

/** The JDK's version from `java -version` (`openjdk version "17.0.15" …`). */
export function javaVersionFromProbe(output: string | undefined): string | undefined {
  return /version "([^"]+)"/.exec(output ?? '')?.[1];
}

function recipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  const jdk = javaVersionFromProbe(facts.tools?.java);
  const out: Recipe[] = [];
  if (has('pom.xml')) {
    const choices = mavenChoices({
      pom: readPom(facts.manifests['pom.xml'] ?? '', facts.files),
      hasWrapper: has('mvnw'),
      wrapperProperties: facts.manifests[MAVEN_WRAPPER_PROPERTIES],
      installed: mavenVersionFromProbe(facts.tools?.mvn),
    });
    // JUnit 5 reads the default per-test timeout from system properties (surefire forwards -D).
    const limit =
      facts.perTestTimeoutSeconds === undefined
        ? ''
        : ` -Djunit.jupiter.execution.timeout.default=${facts.perTestTimeoutSeconds}s`;
    for (const mvn of choices) {
      out.push({
        // The test phase runs once in setup (output dropped): surefire resolves its providers
        // only when tests execute, and test runs have no network (sandbox.testNetwork).
        setupScript: `${SETUP_HEADER}${mvn.prepare}${mvn.command} -B -q -DskipTests test-compile\n${mvn.command} -B -q test -Dmaven.test.failure.ignore=true -DfailIfNoTests=false >/dev/null 2>&1 || true\n`,
        testCommand:
          "find . -path '*/target/surefire-reports' -type d -prune -exec rm -rf {} +; " +
          `${mvn.command} -B test -Dmaven.test.failure.ignore=true -DfailIfNoTests=false${limit}; ` +
          'find . -path \'*/target/surefire-reports/TEST-*.xml\' -exec cat {} + > "$SCALESWE_RESULTS"',
        resultFormat: 'junit-xml',
        source: 'deterministic',
        toolchain: { maven: mvn.version, 'maven.via': mvn.note, ...(jdk && { java: jdk }) },
      });
    }
  }
  if (facts.files.some((f) => /^(build|settings)\.gradle(\.kts)?$/.test(f))) {
    const wrapper = has('gradlew');
    // The JVM takes java.io.tmpdir from /tmp, not $TMPDIR, and Gradle writes a probe file there
    // at start: the sandbox's /tmp is read-only.
    const gradle = `GRADLE_OPTS="-Djava.io.tmpdir=\${TMPDIR:-/tmp} \${GRADLE_OPTS:-}" ${wrapper ? './gradlew' : 'gradle'}`;
    const version = wrapper
      ? wrapperVersion(facts.manifests[GRADLE_WRAPPER_PROPERTIES], 'gradle')
      : undefined;
    out.push({
      setupScript: `${SETUP_HEADER}${gradle} --no-daemon -q testClasses\n${gradle} --no-daemon -q test --continue >/dev/null 2>&1 || true\n`,
      testCommand:
        "find . -path '*/build/test-results' -type d -prune -exec rm -rf {} +; " +
        `${gradle} --no-daemon test --continue; ` +
        "find . -path '*/build/test-results/*' -name 'TEST-*.xml' -exec cat {} + > \"$SCALESWE_RESULTS\"",
      resultFormat: 'junit-xml',
      source: 'deterministic',
      toolchain: {
        gradle:
          version ??
          (wrapper ? 'wrapper' : (/^Gradle (\S+)/m.exec(facts.tools?.gradle ?? '')?.[1] ?? 'installed')),
        ...(jdk && { java: jdk }),
      },
    });
  }
  return out;
}

export const java: LanguageModule = {
  name: 'java',
  extensions: ['java', 'kt'],
  linguist: ['Java', 'Kotlin'],
  manifest: /^(pom\.xml|build\.gradle(\.kts)?|settings\.gradle(\.kts)?)$/,
  testFiles: [/^.*(Test|Tests|IT|TestCase)\.(java|kt)$/], // JUnit, failsafe
  lockfiles: ['gradle.lockfile'],
  configFiles: [
    /^(checkstyle|checkstyle-suppressions|spotbugs-exclude|findbugs-exclude)\.xml$/,
    /^\.sdkmanrc$/,
  ],
  envManifests: ['pom.xml', MAVEN_WRAPPER_PROPERTIES, GRADLE_WRAPPER_PROPERTIES],
  resultFormats: ['junit-xml'],
  recipes,
  // Surefire selects test classes (-Dtest); classes a module lacks are fine with the flag below.
  scopeTests(recipe, testFiles) {
    const classes = testFiles.map(
      (f) => /\/src\/test\/(?:java|kotlin)\/(?:.*\/)?([A-Za-z0-9_$]+)\.(java|kt)$/.exec(`/${f}`)?.[1],
    );
    const maven = / -B test /.test(recipe.testCommand);
    if (!maven || classes.length === 0 || classes.some((c) => c === undefined)) return undefined;
    return recipe.testCommand.replace(
      ' -B test ',
      ` -B test -Dtest=${[...new Set(classes)].join(',')} -Dsurefire.failIfNoSpecifiedTests=false `,
    );
  },
  // The local sandbox's own cgroup namespace on a cgroup v1 host leaves the JDK's container
  // metrics empty, and Gradle 4's memory manager dies on that (NullPointerException); a local
  // process has no container limit to honour. Pods keep container support.
  toolchainEnv: () => ({ GRADLE_OPTS: '-XX:-UseContainerSupport' }),
  toolProbes: { mvn: 'mvn -B -v', java: 'java -version 2>&1', gradle: 'gradle --no-daemon --version' },
  // The JVM takes user.home from the password database, not $HOME: in the sandbox that is a
  // read-only /root, so Maven's local repository and the wrappers' downloads are pointed here.
  cacheEnv: (cacheDir) => ({
    MAVEN_OPTS: `-Dmaven.repo.local=${join(cacheDir, 'm2', 'repository')}`,
    MAVEN_USER_HOME: join(cacheDir, 'm2'),
    GRADLE_USER_HOME: join(cacheDir, 'gradle'),
  }),
  // Resolved offline from the local repository setup filled: group:artifact:type:version:scope.
  lock: {
    freeze:
      "[ -f pom.xml ] && mvn -B -o -q dependency:list -DoutputFile=/dev/stdout -DexcludeTransitive=false 2>/dev/null | grep -E '^ +[^ ]+:[^ ]+:' | sed 's/^ *//' | sort -u || true",
  },
  // Java's neutral value depends on the declared type (null does not compile for primitives).
  mutation: {
    lineComment: '//',
    quotes: `"'`,
    blocks: [
      ['"""', '"""'],
      ['/*', '*/'],
    ],
    booleans: ['true', 'false'],
    logical: ['&&', '||'],
    deletedStatement: '',
    skip: /^(package\s|import\s|@|\*|")/,
  },
};
