using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace AedDeploy;

/// <summary>
/// Loads the engine and its third-party dependencies (SSH.NET, Polly, BouncyCastle, logging abstractions)
/// from <c>dependencies/</c> into a load context of their own, so that another module's copy of the same
/// assemblies, loaded before or after this one, never clashes with ours. This assembly is imported before
/// the cmdlets: PowerShell loads the engine while it reads the cmdlet types (their enum parameters).
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    internal const string EngineAssemblyName = "AedDeploy.Engine";

    private static readonly string DependencyFolder =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "dependencies");

    private static readonly DependencyLoadContext Dependencies = new(DependencyFolder);

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == EngineAssemblyName ? Dependencies.LoadFromAssemblyName(name) : null;

    private sealed class DependencyLoadContext(string folder) : AssemblyLoadContext("AedDeploy.Dependencies")
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var path = Path.Combine(folder, assemblyName.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
