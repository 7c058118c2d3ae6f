import VTagCLI

await VTag.main()
