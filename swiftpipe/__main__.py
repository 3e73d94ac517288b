from swiftpipe.cli import main

main()
