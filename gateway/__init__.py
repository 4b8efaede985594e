"""The Clearway gateway service: API, pipeline steps, store, worker, CLI (the imperative shell)."""

import warnings

# asyncssh (the SFTP drop and the SFTP transport) names cryptography's DSA classes when it is
# imported, and cryptography answers each name with a deprecation warning: ten lines before
# every command's output. Only that warning, raised from inside asyncssh, is silenced.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
