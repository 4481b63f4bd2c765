from qa_model.cli import main

raise SystemExit(main())
