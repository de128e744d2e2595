import type { Recipe } from '../api/index.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER } from './types.ts';

function recipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  const out: Recipe[] = [];
  if (has('pom.xml')) {
    const mvn = has('mvnw') ? './mvnw' : 'mvn';
    out.push({
      setupScript: `${SETUP_HEADER}${mvn} -B -q -DskipTests test-compile\n`,
      testCommand:
        "find . -path '*/target/surefire-reports' -type d -prune -exec rm -rf {} +; " +
        `${mvn} -B test -Dmaven.test.failure.ignore=true -DfailIfNoTests=false; ` +
        'find . -path \'*/target/surefire-reports/TEST-*.xml\' -exec cat {} + > "$SCALESWE_RESULTS"',
      resultFormat: 'junit-xml',
      source: 'deterministic',
    });
  }
  if (facts.files.some((f) => /^(build|settings)\.gradle(\.kts)?$/.test(f))) {
    const gradle = has('gradlew') ? './gradlew' : 'gradle';
    out.push({
      setupScript: `${SETUP_HEADER}${gradle} --no-daemon -q testClasses\n`,
      testCommand:
        "find . -path '*/build/test-results' -type d -prune -exec rm -rf {} +; " +
        `${gradle} --no-daemon test --continue; ` +
        "find . -path '*/build/test-results/*' -name 'TEST-*.xml' -exec cat {} + > \"$SCALESWE_RESULTS\"",
      resultFormat: 'junit-xml',
      source: 'deterministic',
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
  envManifests: ['pom.xml'],
  resultFormats: ['junit-xml'],
  recipes,
  // Maven and Gradle keep their caches under HOME (the stage's own): not shared today.
  cacheEnv: () => ({}),
};
