from bpe_rs.cli import main

raise SystemExit(main())
